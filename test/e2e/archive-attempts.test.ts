import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { records, runCli } from "../support/cli.ts";
import { requireCluster } from "../support/slurm.ts";
import { backends, cancelOwn, ledgerEntries, readRecords, scratch } from "./support/recipe.ts";

// Issue #14 items 17 and 4, archive side: a run fails (exit 1 after some loss lines), is
// resubmitted with a changed learning rate (`slurm-submit --resubmit failed`) and succeeds. The
// archive holds both attempts' logs, each under its attempt and byte-identical to the files on
// disk, and the metrics dataset's rows of each attempt carry the params that attempt ran with.

/** Diverges (exit 1 after three loss lines) when lr > 0.15; trains to the end otherwise. */
const TRAINER = `import sys
p = dict(a.split("=", 1) for a in sys.argv[1:])
lr = float(p["lr"])
steps = 3 if lr > 0.15 else 5
for i in range(steps):
    print(f"iter {i * 10}: loss {2.5 - i * lr:.4f}, time 10.00ms, mfu 1.00%", flush=True)
if lr > 0.15:
    print("RuntimeError: the loss diverged (lr too high)", file=sys.stderr, flush=True)
    sys.exit(1)
print("done", flush=True)
`;

interface Run {
  kind: string;
  name: string;
  params: Record<string, unknown>;
  sweep_params?: Record<string, unknown>;
  command: string[];
  job: { id: string; attempt: number };
  state: { state: string };
  report?: { series?: Record<string, unknown[]> };
}
interface Entry {
  kind: string;
  path: string;
  role?: string;
  source?: string;
  attempt?: number;
  job_id?: string;
  run_name?: string;
}
const runsOf = (text: string): Run[] => records(text).filter((r) => r.kind === "run") as unknown as Run[];
// Scripts and Slurm logs in slurm/<name>/, outside the run directory runs/<name>/: the case where
// only the last attempt's logs used to be archived (logs in the run directory were archived with
// it, though not by attempt; packages/archive/test/attempts.test.ts covers both).
const RENDER = ["--profile", "local", "--out", "slurm"];
const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex");

for (const backend of backends()) {
  backend.describe(`archive keeps every attempt (${backend.name})`, () => {
    const s = scratch(`archive-attempts-${backend.name}`);
    const file = (name: string) => join(s.dir, name);
    const env = { ...process.env, ...s.env };
    const run = async (command: string, args: string[], input?: string) => {
      const r = await runCli(command, args, { cwd: s.dir, env, ...(input !== undefined ? { input } : { stdin: "ignore" }), timeout: 170_000 });
      return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
    };
    const b = ["--backend", backend.name];
    /** Waits for every job of the ledger to end, then parses the logs of the records. */
    const waitAndParse = async () => {
      const poll = await run("slurm-poll", [...b, "--state", ".slurmpipe", "--interval", "1s", "--timeout", "150s"], "");
      expect([0, 1], poll.stderr).toContain(poll.exitCode);
      const parsed = await run("log-parse", [], poll.stdout);
      return parsed.stdout;
    };

    beforeAll(() => {
      if (backend.name === "slurm") requireCluster();
      writeFileSync(file("trainer.py"), TRAINER);
      writeFileSync(
        file("sweep.yaml"),
        [`command: [python3, "${file("trainer.py")}"]`, "args: hydra", 'name: "att-lr{lr}"', "group: archive-attempts", "dir: runs", "params:", "  seed: 1", "grid:", "  lr: [0.2]", "resources:", '  time: "00:02:00"', ""].join("\n"),
      );
    });
    afterAll(async () => {
      await cancelOwn(file(".slurmpipe"), backend.name, s.env.SLURMPIPE_LOCAL_DIR);
      s.cleanup();
    });

    it("archives the failed attempt's and the successful retry's logs by attempt, byte-identical, with each attempt's params in the dataset", async () => {
      // Attempt 1: lr 0.2, fails after three loss lines.
      const gen = await run("sweep-gen", [file("sweep.yaml")]);
      expect(gen.exitCode, gen.stderr).toBe(0);
      const rendered = await run("slurm-render", RENDER, gen.stdout);
      expect(rendered.exitCode, rendered.stderr).toBe(0);
      const submitted = await run("slurm-submit", [...b, "--state", ".slurmpipe"], rendered.stdout);
      expect(submitted.exitCode, submitted.stderr).toBe(0);
      const first = await waitAndParse();
      writeFileSync(file("attempt1.ndjson"), first);
      const [failed] = runsOf(first);
      expect(failed!.state.state).toBe("FAILED");
      expect(failed!.job.attempt).toBe(1);
      expect(failed!.report?.series?.loss).toHaveLength(3);

      // The fix, applied as the Tier-3 recipe applies a suggested one: lr 0.1, in params and command.
      // sweep_params is what sweep-gen generated (set here too, should this sweep-gen not set it yet).
      const retry = {
        ...failed!,
        sweep_params: failed!.sweep_params ?? failed!.params,
        params: { ...failed!.params, lr: 0.1 },
        command: [...failed!.command.filter((a) => !a.startsWith("lr=")), "lr=0.1"],
      };
      const rerendered = await run("slurm-render", RENDER, `${JSON.stringify(retry)}\n`);
      expect(rerendered.exitCode, rerendered.stderr).toBe(0);
      const resubmitted = await run("slurm-submit", [...b, "--state", ".slurmpipe", "--resubmit", "failed"], rerendered.stdout);
      expect(resubmitted.exitCode, resubmitted.stderr).toBe(0);
      expect(runsOf(resubmitted.stdout)[0]!.job.attempt).toBe(2);
      const final = await waitAndParse();
      writeFileSync(file("final.ndjson"), final);
      const [done] = runsOf(final);
      expect(done!.state.state).toBe("COMPLETED");
      expect(done!.job.attempt).toBe(2);

      const jobs = new Map(ledgerEntries(file(".slurmpipe"), "submitted").map((e) => [Number(e.attempt), String(e.job_id)]));
      expect([...jobs.keys()].sort()).toEqual([1, 2]);

      // The archive of both records (the state directory's ledger is read by default).
      const packed = await run("archive", ["attempt1.ndjson", "final.ndjson", "--out", "archives", "--now", "2025-06-01T12:00:00Z", "--verify-after"]);
      expect(packed.exitCode, packed.stderr).toBe(0);
      const out = records(packed.stdout);
      const summary = out.at(-1)!;
      expect(summary).toMatchObject({ kind: "archive-summary", verified: true });
      const archiveDir = String(summary.archive);
      const entries = out.filter((r) => r.kind === "archive-entry") as unknown as Entry[];
      const logs = entries.filter((e) => e.role === "log");
      for (const attempt of [1, 2]) {
        const mine = logs.filter((e) => e.attempt === attempt);
        // stdout and stderr of that attempt's job, in its attempt's directory.
        expect(mine.map((e) => e.path.split("/").pop()).sort(), `attempt ${attempt}`).toEqual([`${jobs.get(attempt)}.err`, `${jobs.get(attempt)}.out`]);
        for (const e of mine) {
          expect(e.path).toBe(`runs/att-lr0.2/_logs/attempt-${attempt}/${e.path.split("/").pop()}`);
          expect(e.job_id).toBe(jobs.get(attempt));
          expect(sha(readFileSync(join(archiveDir, e.path)))).toBe(sha(readFileSync(String(e.source))));
        }
      }
      expect(readFileSync(join(archiveDir, `runs/att-lr0.2/_logs/attempt-1/${jobs.get(1)}.err`), "utf8")).toMatch(/the loss diverged/);
      expect(readFileSync(join(archiveDir, `runs/att-lr0.2/_logs/attempt-2/${jobs.get(2)}.out`), "utf8")).toMatch(/^done$/m);

      // The dataset: attempt 1's rows ran with lr 0.2 (the sweep's), attempt 2's with lr 0.1 (changed).
      const csv = readFileSync(join(archiveDir, "metrics.csv"), "utf8").trim().split("\n");
      const head = csv[0]!.split(",");
      const rows = csv.slice(1).map((l) => Object.fromEntries(l.split(",").map((v, i) => [head[i], v])));
      expect(head).toEqual(expect.arrayContaining(["run_id", "name", "attempt", "lr", "params_changed", "step", "loss"]));
      expect(rows.filter((r) => r.attempt === "1").map((r) => [r.lr, r.params_changed])).toEqual([
        ["0.2", "false"],
        ["0.2", "false"],
        ["0.2", "false"],
      ]);
      expect(rows.filter((r) => r.attempt === "2").map((r) => [r.lr, r.params_changed])).toEqual(Array(5).fill(["0.1", "true"]));
      const nd = readFileSync(join(archiveDir, "metrics.ndjson"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(nd.find((r) => r.attempt === 2)).toMatchObject({ job_id: jobs.get(2), params: { lr: 0.1, seed: 1 }, param_changes: [{ key: "lr", sweep: 0.2, ran: 0.1 }] });
      expect(nd.find((r) => r.attempt === 1)).toMatchObject({ job_id: jobs.get(1), params: { lr: 0.2, seed: 1 }, params_changed: false });
    });

    it("finds the earlier attempt in the ledger when only the final records are archived", async () => {
      const packed = await run("archive", ["final.ndjson", "--state", ".slurmpipe", "--out", "archives-final", "--now", "2025-06-01T12:00:00Z"]);
      expect(packed.exitCode, packed.stderr).toBe(0);
      const entries = records(packed.stdout).filter((r) => r.kind === "archive-entry") as unknown as Entry[];
      const logs = entries.filter((e) => e.role === "log");
      expect(logs.map((e) => e.attempt).sort()).toEqual([1, 1, 2, 2]);
      for (const e of logs) expect(e.path).toMatch(new RegExp(`^runs/att-lr0\\.2/_logs/attempt-${e.attempt}/`));
      // Attempt 1 had no record with parsed series here: only attempt 2 has rows.
      const csv = readFileSync(join(s.dir, "archives-final", "archive-attempts-20250601T120000Z", "metrics.csv"), "utf8").trim().split("\n");
      expect(csv.slice(1).every((l) => l.split(",")[csv[0]!.split(",").indexOf("attempt")] === "2")).toBe(true);
      expect(readRecords(file("final.ndjson")).filter((r) => r.kind === "run")).toHaveLength(1);
    });
  });
}
