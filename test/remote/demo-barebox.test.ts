import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../support/cli.ts";
import { readRecords, scratch } from "../e2e/support/recipe.ts";
import { useSshd } from "./support/use-sshd.ts";

// `bash scripts/demo --remote HOST` (README's first command on a bare box): through a real sshd on
// 127.0.0.1, HOST is the test user's login on this machine; the demo's 12 runs are rendered into
// that user's home, run there by the local backend in bare-box mode, parsed from there, and the
// archive packed there and fetched. The records, STATUS.md and plots stay in DIR here.
const fx = useSshd();

describe("scripts/demo --remote HOST (bare-box mode over a real sshd)", () => {
  const s = scratch("demo-barebox");
  afterAll(async () => {
    await execa("rm", ["-rf", join(fx.home, "slurmpipe-demo")], { reject: false });
    s.cleanup();
  });

  it("runs the demo's 12 jobs on HOST: the same STATUS.md verdicts as on this machine, the archive fetched and verified", async () => {
    const out = join(s.dir, "demo");
    const r = await execa("bash", [join(repoRoot, "scripts/demo"), "--remote", fx.sshd.host, out], { env: { ...s.env, ...fx.env() }, reject: false, timeout: 200_000 });
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    const status = readFileSync(join(out, "STATUS.md"), "utf8");
    expect(status).toMatch(/^\*\*9 of 12 completed \(75%\)\*\* · 12 finished \(100%\) · 3 failed/m);
    const expected: Record<string, [string, string]> = { crash: ["FAILED", "PYTHON_EXCEPTION"], hang: ["TIMEOUT", "TIME_LIMIT"], oom: ["FAILED", "CUDA_OOM"], nan: ["COMPLETED", "NAN_LOSS"] };
    const rows = status.split("\n").filter((l) => /^\| (sgd|adamw|crash|hang|nan|oom)_lr/.test(l) && l.includes("](plots/"));
    expect(rows).toHaveLength(12);
    for (const row of rows) {
      const cells = row.split(" | ");
      const name = cells[0]!.replace(/^\| /, "");
      const [state, cause] = expected[name.split("_")[0]!] ?? ["COMPLETED", ""];
      expect(cells[1], name).toBe(state);
      if (cause) expect(row, name).toContain(cause);
    }
    // The jobs ran on HOST, as its user, in its home; nothing of the runs was written here.
    const runs = readRecords(join(out, "parsed.ndjson")).filter((x) => x.kind === "run") as { script: { path: string }; job: { cluster: string } }[];
    expect(runs).toHaveLength(12);
    for (const run of runs) {
      expect(run.script.path.startsWith(join(fx.home, "slurmpipe-demo", "runs")), run.script.path).toBe(true);
      expect(run.job.cluster).toBe("local");
    }
    expect(existsSync(join(out, "runs"))).toBe(false);
    const owner = (await execa("stat", ["-c", "%U", join(fx.home, "slurmpipe-demo", "runs")])).stdout.trim();
    expect(owner).toBe("spremote");
    // The archive: packed on HOST, fetched into DIR/archives, verified against its manifest.
    const summary = readRecords(join(out, "archive.ndjson")).find((e) => e.kind === "archive-summary")!;
    expect(summary.verified).toBe(true);
    const fetched = readdirSync(join(out, "archives")).filter((f) => /^demo-\d{8}T\d{6}Z\.tar\.gz$/.test(f));
    expect(fetched).toHaveLength(1);
    expect(existsSync(join(fx.home, "slurmpipe-demo", "archives", fetched[0]!))).toBe(true);
  });
});
