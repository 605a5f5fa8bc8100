import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { taggedJobName } from "@slurmpipe/core";
import { afterAll, expect, it } from "vitest";
import { cancel, countByName, ndjson, tinyRun, waitForSacct } from "../../packages/slurm-submit/test/slurm-fixtures.ts";
import { runCli } from "../support/cli.ts";
import { prng } from "../support/prng.ts";
import { describeSlurm, requireCluster } from "../support/slurm.ts";

/**
 * kill -9 slurm-submit at random (seeded) moments of a sweep submission and rerun it until it exits
 * 0: every run must end with exactly one job (counted by its tag in squeue and sacct) and a job id
 * in the ledger. SLURMPIPE_CHAOS_RUNS (default 200, the sweep size issue #8 asks for) sets the sweep
 * size, SLURMPIPE_CHAOS_SEED the seed, SLURMPIPE_CHAOS_KILLS the number of kills (default runs/10).
 * Each rerun after a kill waits out the dead holder's lock (--lock-stale, at least 5 s), so the
 * kills, not the runs, set the duration: 200 runs / 20 kills take about 2 minutes here.
 */
// Read by name: these knobs only matter to this file, which turbo never runs.
const envNumber = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const RUNS = envNumber("SLURMPIPE_CHAOS_RUNS", 200);
const SEED = envNumber("SLURMPIPE_CHAOS_SEED", 20261123);
const KILLS = envNumber("SLURMPIPE_CHAOS_KILLS", Math.ceil(RUNS / 10));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ours: string[] = [];
afterAll(async () => {
  await cancel(ours);
});

describeSlurm("chaos: kill -9 slurm-submit at random moments", () => {
  it(
    `${RUNS} runs, ${KILLS} kills (seed ${SEED}): exactly one job per run, a complete ledger`,
    async () => {
      requireCluster();
      const started = Date.now();
      const random = prng(SEED);
      const dir = mkdtempSync(join(tmpdir(), "sp-submit-chaos-"));
      const runs = Array.from({ length: RUNS }, (_, i) => tinyRun(dir, `spsub-chaos-${i}`, "true"));
      const input = join(dir, "runs.ndjson");
      writeFileSync(input, ndjson(runs));
      const state = join(dir, "state");
      const args = ["--state", state, "--wait-lock", "--lock-stale", "5s", "--confirm-delay", "1s", "--quiet", input];
      const ledgerPath = join(state, "ledger.ndjson");
      const lines = () => (existsSync(ledgerPath) ? readFileSync(ledgerPath, "utf8").split("\n").length - 1 : 0);
      const killedAt: string[] = [];
      let finished = false;
      for (let round = 0; round < KILLS + 5 && !finished; round++) {
        const child = runCli("slurm-submit", args);
        let exited = false;
        const done = child.then((r) => {
          exited = true;
          return r;
        });
        if (round < KILLS) {
          // A random point of the submission: after k more ledger lines (2 per run) plus 0-20 ms,
          // i.e. between an intent and its sbatch, during sbatch, or between result and next intent.
          const base = lines();
          const withJob = existsSync(ledgerPath) ? (readFileSync(ledgerPath, "utf8").match(/"t":"(submitted|reconciled)"/g) ?? []).length : 0;
          // Spread the kills over the whole sweep: on average RUNS/KILLS runs of progress per round.
          const span = Math.max(2, Math.ceil((4 * RUNS) / Math.max(1, KILLS)));
          const k = Math.floor(random() * Math.min(span, 2 * Math.max(1, RUNS - withJob)));
          const jitter = Math.floor(random() * 20);
          const t0 = Date.now();
          while (!exited && lines() < base + k && Date.now() - t0 < 30_000) await sleep(3);
          await sleep(jitter);
          if (!exited) {
            child.kill("SIGKILL");
            killedAt.push(`+${lines() - base}`);
          }
        }
        const r = await done;
        if (r.signal === "SIGKILL") continue;
        if (r.stderr) process.stderr.write(String(r.stderr));
        finished = r.exitCode === 0;
      }
      expect(finished).toBe(true);

      const ledger = readFileSync(join(state, "ledger.ndjson"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { t: string; run_id: string; job_id?: string; job_name: string });
      const jobOf = new Map<string, string>();
      for (const e of ledger) if (e.job_id) jobOf.set(e.run_id, e.job_id);
      ours.push(...jobOf.values());
      for (const run of runs) expect(jobOf.has(String(run.id))).toBe(true);

      // Count by tag, whatever the attempt number: exactly one job per run.
      const tagsOf = (r: Record<string, unknown>) => [1, 2, 3].map((a) => taggedJobName(String(r.name), String(r.id), a));
      const first = runs.map((r) => tagsOf(r)[0]!);
      const all = runs.flatMap(tagsOf);
      await waitForSacct(first);
      const { squeue, sacct } = await countByName(all);
      for (const run of runs) {
        const n = (m: Map<string, string[]>) => tagsOf(run).reduce((k, t) => k + (m.get(t)?.length ?? 0), 0);
        expect(n(squeue), `${String(run.name)} in squeue`).toBe(1);
        expect(n(sacct), `${String(run.name)} in sacct`).toBe(1);
      }
      const kinds: Record<string, number> = {};
      for (const e of ledger) kinds[e.t] = (kinds[e.t] ?? 0) + 1;
      process.stderr.write(
        `chaos: ${RUNS} runs, ${killedAt.length} kills (ledger lines written before each: ${killedAt.join(" ")}), ledger ${JSON.stringify(kinds)}, ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
      );
    },
    Math.max(120_000, RUNS * 3000),
  );
});
