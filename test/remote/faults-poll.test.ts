import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { closeRemote } from "../../packages/core/src/remote/ssh.ts";
import { cancel } from "../../packages/slurm-submit/test/slurm-fixtures.ts";
import { records, runCli } from "../support/cli.ts";
import { describeSlurm, requireCluster } from "../support/slurm.ts";
import { expectRealFinals, masterPid, submitOverSsh } from "./support/faults.ts";
import { type Sshd, killTree, startSshd } from "./support/sshd.ts";

/**
 * Faults, remotely (issue #17): sshd killed -9 while `slurm-poll --remote` watches running jobs,
 * with every session it served and the ControlMaster connection on this side, for OUTAGE_S
 * seconds, then started again on the same port. A refused connection is a failed query: no job
 * may be reported in a terminal state it did not reach (none FAILED because ssh failed), and the
 * watch must resume by itself and end with each job's real final state, as this machine's sacct
 * has it. sshd's accepted connections: the submission's one (the watch reuses it: ControlPersist,
 * same state dir), then exactly one more, the reconnect after the restart.
 */
// biome-ignore lint/suspicious/noUndeclaredEnvVars: a test-only knob, not a build input
const OUTAGE_S = Number(process.env.SLURMPIPE_FAULT_OUTAGE_S ?? 20);
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

describeSlurm("faults over ssh: sshd killed mid-poll", () => {
  it(`no false terminal state while sshd is down ${OUTAGE_S} s, and the watch resumes by itself`, async () => {
    requireCluster();
    const t = OUTAGE_S;
    const before = sshd.accepted();
    const sub = await submitOverSsh(sshd, "spkill", {
      short: "sleep 1",
      during: `sleep ${Math.round(t / 2) + 6}`,
      "fails-during": `sleep ${Math.round(t / 2) + 6}; exit 2`,
      after: `sleep ${t + 20}`,
      "fails-after": `sleep ${t + 20}; exit 3`,
    });
    ours.push(...sub.ids.values());
    states.push(sub.state);
    expect(sshd.accepted() - before, "slurm-submit: one connection").toBe(1);
    const log = join(sub.dir, "run.log");
    const polling = runCli(
      "slurm-poll",
      ["--state", sub.state, "--remote", sshd.host, "--remote-batch-mode", "--interval", "1s", "--max-backoff", "4s", "--query-timeout", "30s", "--timeout", `${3 * t + 120}s`, "--log", log],
      { input: sub.stdout, env: { SLURMPIPE_SSH: sshd.sshBin } },
    );
    await sleep(5000);
    const master = await masterPid(sshd, sub.state);
    expect(master, "the watch runs through the submission's ControlMaster").toBeDefined();
    const from = Date.now();
    await sshd.kill9();
    killTree(master!);
    await sleep(t * 1000);
    await sshd.restart();
    const to = Date.now();

    const res = await polling;
    const out = records(res.stdout);
    await expectRealFinals(out, sub.ids, { from, to });
    // The outage was seen as failed queries, not as answers.
    expect(String(res.stderr)).toMatch(/squeue failed; nothing changes/);
    expect(String(res.stderr)).toMatch(/Connection refused|Connection lost to/);
    expect(readFileSync(log, "utf8")).toMatch(/query failed .*; no state changed/);
    // It resumed: the jobs still running at the restart were seen to end after it.
    const evs = out.filter((r) => r.kind === "event");
    expect(evs.some((e) => Date.parse(String(e.at)) > to)).toBe(true);
    expect(res.exitCode).toBe(1); // two jobs really failed
    expect(sshd.accepted() - before, "the submission's connection, then one reconnect after the restart").toBe(2);
  }, 300_000);
});
