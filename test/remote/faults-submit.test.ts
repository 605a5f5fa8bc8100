import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { taggedJobName } from "@slurmpipe/core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { closeRemote } from "../../packages/core/src/remote/ssh.ts";
import { cancel, countByName, ndjson, tinyRun, waitForSacct, wrapperBin } from "../../packages/slurm-submit/test/slurm-fixtures.ts";
import { records, runCli } from "../support/cli.ts";
import { prng } from "../support/prng.ts";
import { describeSlurm, requireCluster } from "../support/slurm.ts";
import { jobDir, masterPid } from "./support/faults.ts";
import { type Sshd, killTree, startSshd } from "./support/sshd.ts";

/**
 * Faults, remotely (issue #17): a connection lost during submission is reconciled by the job-name
 * tag, as an sbatch timeout is. The kill -9 storm of test/chaos/submit-kill.test.ts, through ssh:
 * slurm-submit --remote killed -9 at random (seeded) moments of a sweep and rerun until it exits
 * 0; in some rounds sshd is killed -9 first, mid-submission (with its sessions, the remote sbatch
 * among them, and the ControlMaster), and started again on the same port 2-4 s later. Then, as the local chaos test
 * asserts: exactly one job per run (squeue and sacct, by tag), every run's job id in the ledger
 * and in the output. sshd's accepted connections: one for the whole storm, every killed and rerun
 * slurm-submit reusing the ControlMaster, plus one reconnect per sshd restart.
 */
// biome-ignore lint/suspicious/noUndeclaredEnvVars: test-only knobs, not build inputs
const RUNS = Number(process.env.SLURMPIPE_FAULT_RUNS ?? 100);
// biome-ignore lint/suspicious/noUndeclaredEnvVars: test-only knobs, not build inputs
const SEED = Number(process.env.SLURMPIPE_CHAOS_SEED ?? 20261204);
const KILLS = 10; // rounds ending in kill -9 of slurm-submit
const SSHD_ROUNDS = new Set([3, 7]); // of which sshd is killed -9 first

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let sshd: Sshd;
const ours: string[] = [];
const states: string[] = [];
beforeAll(async () => {
  sshd = await startSshd();
});
afterAll(async () => {
  await cancel(ours);
  for (const s of states) await closeRemote({ host: sshd.host, stateDir: s, sshBin: sshd.sshBin });
  await sshd?.stop();
});

type LedgerLine = { t: string; run_id: string; job_id?: string; job_name: string };
const ledgerOf = (state: string): LedgerLine[] =>
  existsSync(join(state, "ledger.ndjson"))
    ? readFileSync(join(state, "ledger.ndjson"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as LedgerLine)
    : [];

/** Exactly one job per run (any attempt's tag) in squeue -t all and in sacct, and its id in the ledger and in `out`. */
async function expectOneJobEach(runs: Record<string, unknown>[], state: string, out: Record<string, unknown>[]): Promise<void> {
  const jobOf = new Map<string, string>();
  for (const e of ledgerOf(state)) if (e.job_id) jobOf.set(e.run_id, e.job_id);
  ours.push(...jobOf.values());
  const printed = new Map((out as { id: string; job?: { id?: string } }[]).map((r) => [r.id, r.job?.id]));
  for (const run of runs) {
    expect(jobOf.has(String(run.id)), `${String(run.name)}: a job id in the ledger`).toBe(true);
    expect(printed.get(String(run.id)), `${String(run.name)}: the ledger's job id in the output`).toBe(jobOf.get(String(run.id)));
  }
  const tagsOf = (r: Record<string, unknown>) => [1, 2, 3].map((a) => taggedJobName(String(r.name), String(r.id), a));
  await waitForSacct(runs.map((r) => tagsOf(r)[0]!));
  const { squeue, sacct } = await countByName(runs.flatMap(tagsOf));
  for (const run of runs) {
    const n = (m: Map<string, string[]>) => tagsOf(run).reduce((k, t) => k + (m.get(t)?.length ?? 0), 0);
    expect(n(squeue), `${String(run.name)} in squeue`).toBe(1);
    expect(n(sacct), `${String(run.name)} in sacct`).toBe(1);
  }
}

describeSlurm("faults over ssh: connection lost during submission", () => {
  it(`${RUNS} runs, ${KILLS} kills -9 of slurm-submit --remote, ${SSHD_ROUNDS.size} of them after one of sshd (seed ${SEED}): one job per run, no id lost`, async () => {
    requireCluster();
    const started = Date.now();
    const random = prng(SEED);
    const dir = jobDir("sp-fault-storm-");
    const runs = Array.from({ length: RUNS }, (_, i) => tinyRun(dir, `spstorm-${i}`, "true"));
    for (const r of runs) chmodSync(join(dir, String(r.name)), 0o777);
    const input = join(dir, "runs.ndjson");
    writeFileSync(input, ndjson(runs));
    const state = join(dir, "state");
    states.push(state);
    const args = ["--state", state, "--remote", sshd.host, "--remote-batch-mode", "--wait-lock", "--lock-stale", "5s", "--confirm-delay", "1s", "--quiet", input];
    const env = { SLURMPIPE_SSH: sshd.sshBin };
    const lines = () => ledgerOf(state).length;
    const before = sshd.accepted();
    const log: string[] = [];
    let finished: { stdout: unknown } | undefined;
    const rounds = KILLS;
    for (let round = 0; round < rounds + 5 && !finished; round++) {
      const child = runCli("slurm-submit", args, { env });
      let exited = false;
      const done = child.then((r) => {
        exited = true;
        return r;
      });
      if (round < rounds) {
        // After k more ledger lines (2 per run) plus 0-20 ms: between an intent and its sbatch, during the remote sbatch, or after.
        const base = lines();
        const withJob = ledgerOf(state).filter((e) => e.job_id).length;
        const k = Math.floor(random() * Math.min(Math.ceil((4 * RUNS) / rounds), 2 * Math.max(1, RUNS - withJob)));
        const jitter = Math.floor(random() * 20);
        const t0 = Date.now();
        while (!exited && lines() < base + k && Date.now() - t0 < 30_000) await sleep(3);
        await sleep(jitter);
        if (!exited && SSHD_ROUNDS.has(round)) {
          // sshd killed mid-submission (with the remote sbatch it was running, and the
          // ControlMaster), started again 2-4 s later; then this slurm-submit is killed too, a
          // random number of ledger lines later, so that the storm goes on.
          const master = await masterPid(sshd, state);
          await sshd.kill9();
          if (master) killTree(master);
          log.push(`sshd+${lines() - base}`);
          await sleep(2000 + Math.floor(random() * 2000));
          await sshd.restart();
          const again = lines();
          const k2 = 2 + Math.floor(random() * 10);
          while (!exited && lines() < again + k2 && Date.now() - t0 < 60_000) await sleep(3);
        }
        if (!exited) {
          child.kill("SIGKILL");
          log.push(`submit+${lines() - base}`);
        }
      }
      const r = await done;
      if (r.signal === "SIGKILL") continue;
      if (r.exitCode === 0) finished = r;
      else log.push(`exit ${r.exitCode}`);
    }
    expect(finished, log.join(" ")).toBeDefined();
    await expectOneJobEach(runs, state, records(finished!.stdout));
    const kinds: Record<string, number> = {};
    for (const e of ledgerOf(state)) kinds[e.t] = (kinds[e.t] ?? 0) + 1;
    const sshdKills = log.filter((l) => l.startsWith("sshd")).length;
    process.stderr.write(`storm over ssh: ${RUNS} runs, rounds: ${log.join(" ")}; ledger ${JSON.stringify(kinds)}; ${sshd.accepted() - before} ssh connections; ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    expect(sshdKills).toBe(SSHD_ROUNDS.size);
    if (sshd.accepted() - before !== 1 + sshdKills) process.stderr.write(readFileSync(sshd.log, "utf8").split("\n").filter((l) => /Accepted|listening|Received signal|terminat/i.test(l)).join("\n"));
    expect(sshd.accepted() - before, "one connection for the storm, plus one per sshd restart").toBe(1 + sshdKills);
  }, 400_000);

  it("kill -9 during a slow remote sbatch: the orphaned ssh is waited for, not submitted again", async () => {
    requireCluster();
    // The remote sbatch takes 15 s (a busy controller): longer than the rerun's wait for the dead
    // holder's lock (5 s) and its second look (1 s). The killed slurm-submit's ssh child lives on
    // until the remote sbatch ends (kill -9 does not take children with it), as a local sbatch does.
    const dir = jobDir("sp-fault-slow-");
    // Its argv loses the tag at once (re-exec through sh -c): the remote host is this machine, and
    // a remote sbatch must not be what the local orphan check finds, as it could not on a host of its own.
    const bin = await wrapperBin(dir, (real) => `#!/bin/sh\nSP_ARGS="$*" exec /bin/sh -c 'sleep 15; exec "$0" $SP_ARGS' "${real}"\n`);
    chmodSync(bin, 0o755);
    const runs = [tinyRun(dir, "spslow-0", "true")];
    chmodSync(join(dir, "spslow-0"), 0o777);
    const state = join(dir, "state");
    states.push(state);
    const args = ["--state", state, "--remote", sshd.host, "--remote-batch-mode", "--slurm-bin", bin, "--wait-lock", "--lock-stale", "5s", "--confirm-delay", "1s", "--quiet"];
    const env = { SLURMPIPE_SSH: sshd.sshBin };
    const first = runCli("slurm-submit", args, { env, input: ndjson(runs) });
    const t0 = Date.now();
    while (!ledgerOf(state).some((e) => e.t === "intent") && Date.now() - t0 < 30_000) await sleep(20);
    await sleep(1000);
    first.kill("SIGKILL");
    expect((await first).signal).toBe("SIGKILL");
    const rerun = await runCli("slurm-submit", args, { env, input: ndjson(runs) });
    expect(rerun.exitCode, String(rerun.stderr)).toBe(0);
    await expectOneJobEach(runs, state, records(rerun.stdout));
  }, 180_000);
});
