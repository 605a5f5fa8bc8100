import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../support/cli.ts";
import { describeSlurm, requireCluster } from "../support/slurm.ts";
import { readRecords, scratch } from "./support/recipe.ts";

// The README's first command (scripts/demo) on the local backend, and the same Makefile targets
// against the real Slurm (BACKEND=slurm) on two of the demo's runs.
describe("scripts/demo (local backend)", () => {
  const s = scratch("demo-local");
  afterAll(() => s.cleanup());

  it("runs the whole pipeline: STATUS.md lists all 12 runs with state, loss trend and plot; failures explained; archive verified", async () => {
    const out = join(s.dir, "demo");
    const started = Date.now();
    const r = await execa("bash", [join(repoRoot, "scripts/demo"), out], { env: s.env, reject: false, timeout: 170_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(120_000);
    const status = readFileSync(join(out, "STATUS.md"), "utf8");
    expect(status).toMatch(/^\*\*9 of 12 completed \(75%\)\*\* · 12 finished \(100%\) · 3 failed/m);
    const rows = status.split("\n").filter((l) => /^\| (sgd|adamw|crash|hang|nan|oom)_lr/.test(l) && l.includes("](plots/"));
    expect(rows).toHaveLength(12);
    const expected: Record<string, [string, string]> = { crash: ["FAILED", "PYTHON_EXCEPTION"], hang: ["TIMEOUT", "TIME_LIMIT"], oom: ["FAILED", "CUDA_OOM"], nan: ["COMPLETED", "NAN_LOSS"] };
    for (const row of rows) {
      const cells = row.split(" | ");
      const name = cells[0]!.replace(/^\| /, "");
      const [state, cause] = expected[name.split("_")[0]!] ?? ["COMPLETED", ""];
      expect(cells[1], name).toBe(state);
      const plot = /\]\((plots\/[^)]+\.svg)\)/.exec(row)![1]!;
      expect(existsSync(join(out, plot)), plot).toBe(true);
      if (cause) expect(row, name).toContain(cause);
      else expect(row, name).toContain("[DECREASING](");
    }
    expect(rows.find((l) => l.startsWith("| nan_"))).toContain("[NAN](");
    expect(status).toMatch(/^## Failures$/m);
    expect(status).toMatch(/^## Rerun$/m);
    for (const group of ["sgd", "adamw"]) expect(existsSync(join(out, `plots/overview-${group}.svg`))).toBe(true);

    const summary = readRecords(join(out, "archive.ndjson")).find((e) => e.kind === "archive-summary")!;
    expect(String(summary.archive)).toMatch(/demo-\d{8}T\d{6}Z\.tar\.gz$/);
    expect(summary.verified).toBe(true);
    expect(existsSync(String(summary.archive))).toBe(true);
  });
});

describeSlurm("examples/Makefile demo with BACKEND=slurm", () => {
  const s = scratch("demo-slurm");
  afterAll(() => s.cleanup());

  it("the same targets submit to the real Slurm (two of the demo's runs)", async () => {
    requireCluster();
    const out = join(s.dir, "demo");
    const flags = `-p train=${join(repoRoot, "examples/train.py")} --filter variant=sgd --filter seed=0`;
    const r = await execa("make", ["-C", join(repoRoot, "examples"), "demo", "BACKEND=slurm", `OUT=${out}`, `SWEEP_FLAGS=${flags}`, "INTERVAL=2s"], { env: s.env, reject: false, timeout: 170_000 });
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).not.toContain("--backend local");
    const runs = readRecords(join(out, "parsed.ndjson")).filter((x) => x.kind === "run") as { job: { cluster: string; backend?: string }; state: { state: string } }[];
    expect(runs).toHaveLength(2);
    for (const run of runs) {
      expect(run.job.cluster).not.toBe("local");
      expect(run.state.state).toBe("COMPLETED");
    }
    expect(readFileSync(join(out, "STATUS.md"), "utf8")).toMatch(/^\*\*2 of 2 completed \(100%\)\*\*/m);
  });
});
