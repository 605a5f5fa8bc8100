import { chmodSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ndjson } from "../../packages/slurm-submit/test/slurm-fixtures.ts";
import { closeRemote } from "../../packages/core/src/remote/ssh.ts";
import { records, runCli } from "../support/cli.ts";
import { boxRun, dropConnection, hostHome, hostJobs, restartSshd, until } from "./support/barebox.ts";
import { type Sshd, startSshd } from "./support/sshd.ts";

/**
 * Bare-box mode: the connection lost in the middle of a submission (ControlMaster and sshd killed
 * -9 between sbatch calls, sshd back a few seconds later) is reconciled by the job-name tag as an
 * sbatch timeout is: every run gets exactly one job on HOST, none twice, no id lost.
 */
let sshd: Sshd;
let restarted: ResultPromise | undefined;
let state = "";
beforeAll(async () => {
  sshd = await startSshd();
});
afterAll(async () => {
  if (state) await closeRemote({ host: sshd.host, stateDir: state, sshBin: sshd.sshBin });
  restarted?.kill("SIGKILL");
  await restarted;
  await sshd?.stop();
});

type Rec = { name?: string; job?: { id?: string; name?: string }; error?: { code?: string } };

describe("bare-box mode: a connection lost during submission", () => {
  it("zero duplicates, zero lost job ids: each run's tag has exactly one job on HOST", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-barebox-submit-"));
    chmodSync(dir, 0o755);
    const runs = Array.from({ length: 10 }, (_, i) => boxRun(dir, `r${i}`, `box-sub-${i}`, "true"));
    state = join(dir, "state");
    const env = { SLURMPIPE_SSH: sshd.sshBin };
    const remote = ["--backend", "local", "--remote", sshd.host, "--remote-batch-mode"];
    const home = await hostHome();
    const ours = () => hostJobs(home).filter((j) => runs.some((r) => j.name.startsWith(`${String(r.name)}.sp${String(r.id).slice(0, 10)}`)));
    const sub = runCli("slurm-submit", ["--state", state, ...remote, "--stagger", "1s"], { input: ndjson(runs), env, timeout: 100_000 });
    await until("a few jobs submitted", () => ours().length >= 3, 60_000);
    await dropConnection(sshd, state);
    await new Promise((r) => setTimeout(r, 3000));
    restarted = (await restartSshd(sshd)).proc;
    const first = await sub;
    // The first run met the dropped connection (an sbatch refused), looked for the tag, and went on.
    expect(String(first.stderr)).toMatch(/Connection lost to .*looking for job/);
    // Whatever the first run could not decide stays open in the ledger; a second run settles it
    // (and submits nothing that the first did).
    const again = await runCli("slurm-submit", ["--state", state, ...remote], { input: ndjson(runs), env, timeout: 60_000 });
    expect(String(again.stderr)).toMatch(/ 0 submitted, .*, 0 failed/);
    expect(again.exitCode, String(again.stderr)).toBe(0);
    const out = records(again.stdout) as Rec[];
    expect(out).toHaveLength(10);
    const jobs = ours();
    for (const r of out) {
      const matching = jobs.filter((j) => j.name === r.job?.name);
      expect(matching.map((j) => String(j.raw_id)), `${r.name} (first run: ${String(first.stderr).slice(-400)})`).toEqual([String(r.job?.id)]);
    }
    expect(jobs).toHaveLength(10);
  });
});
