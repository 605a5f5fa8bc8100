import { appendFileSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { taggedJobName } from "@slurmpipe/core";
import { execa } from "execa";
import { afterAll, expect, it } from "vitest";
import { cancel, ndjson, tinyRun, waitForSacct, wrapperBin } from "../../packages/slurm-submit/test/slurm-fixtures.ts";
import { records, runCli } from "../support/cli.ts";
import { describeSlurm, requireCluster } from "../support/slurm.ts";

const ours: string[] = [];
afterAll(async () => {
  await cancel(ours);
});

/** Every job of this user named exactly `name`, in squeue and sacct (no --name: it would split at commas). */
async function jobsNamed(name: string): Promise<{ squeue: string[]; sacct: string[] }> {
  const user = process.env.USER ?? "root";
  const sq = await execa("squeue", ["-h", "-t", "all", "-u", user, "-o", "%i|%j"]);
  const sa = await execa("sacct", ["-X", "-n", "-P", "-u", user, "-S", "now-1days", "-E", "now", "-o", "JobID,JobName"]);
  const pick = (out: string) =>
    out
      .split("\n")
      .map((l) => l.split("|"))
      .filter(([, n]) => n === name)
      .map(([id]) => id!);
  return { squeue: pick(String(sq.stdout)), sacct: pick(String(sa.stdout)) };
}

describeSlurm("chaos: run names that Slurm's list syntax would split", () => {
  it("a run named with a comma, slurm-submit killed -9 right after sbatch returns: the rerun reconciles, one job", async () => {
    requireCluster();
    const dir = mkdtempSync(join(tmpdir(), "sp-names-kill-"));
    const run = tinyRun(dir, "lr0.1,wd1e-4", "true");
    const input = ndjson([run]);
    const state = join(dir, "state");
    // sbatch creates the job and prints its id; then its caller dies before reading the answer.
    const bin = await wrapperBin(dir, (real) => `#!/bin/sh\n"${real}" "$@"\nrc=$?\nkill -9 $PPID\nexit $rc\n`);
    const killed = await runCli("slurm-submit", ["--state", state, "--lock-stale", "5s"], { input, env: { ...process.env, SLURMPIPE_SLURM_BIN: bin } });
    expect(killed.signal).toBe("SIGKILL");
    const rerun = await runCli("slurm-submit", ["--state", state, "--wait-lock", "--lock-stale", "5s", "--confirm-delay", "1s"], { input });
    expect(rerun.exitCode, String(rerun.stderr)).toBe(0);
    expect(String(rerun.stderr)).toContain("1 reconciled");
    const [out] = records(rerun.stdout) as { job: { id: string; name: string } }[];
    ours.push(out!.job.id);
    const name = taggedJobName(String(run.name), String(run.id));
    expect(out!.job.name).toBe(name);
    expect(name).not.toContain(",");
    await waitForSacct([name]);
    const jobs = await jobsNamed(name);
    expect(jobs.squeue).toEqual([out!.job.id]);
    expect(jobs.sacct).toEqual([out!.job.id]);
  });

  it("an open intent from an older ledger whose job name has a comma is found among the user's jobs, not submitted again", async () => {
    requireCluster();
    const dir = mkdtempSync(join(tmpdir(), "sp-names-legacy-"));
    const run = tinyRun(dir, "lr0.2,wd0", "true");
    const legacyName = `lr0.2,wd0.sp${String(run.id).slice(0, 10)}`;
    // What the earlier version did: sbatch under the comma name, intent in the ledger, then a crash.
    const sb = await execa("sbatch", ["--parsable", `--job-name=${legacyName}`, String((run.script as { path: string }).path)]);
    const jobId = String(sb.stdout).trim().split(";")[0]!;
    ours.push(jobId);
    const state = join(dir, "state");
    mkdirSync(state);
    const intent = { t: "intent", run_id: run.id, attempt: 1, job_name: legacyName, at: new Date(Date.now() - 2000).toISOString(), argv: ["sbatch"], name: run.name };
    appendFileSync(join(state, "ledger.ndjson"), `${JSON.stringify(intent)}\n`);
    const r = await runCli("slurm-submit", ["--state", state, "--confirm-delay", "1s"], { input: ndjson([run]) });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stderr)).toContain("1 reconciled");
    expect((records(r.stdout) as { job: { id: string } }[])[0]!.job.id).toBe(jobId);
    const ledger = readFileSync(join(state, "ledger.ndjson"), "utf8");
    expect(ledger).toContain(`"job_id":"${jobId}"`);
    expect((await jobsNamed(legacyName)).squeue).toEqual([jobId]);
  });
});
