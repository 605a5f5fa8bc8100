import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { taggedJobName } from "@slurmpipe/core";
import { afterAll, describe, expect, it } from "vitest";
import { cancel, countByName, ndjson, tinyRun, waitForSacct } from "../../packages/slurm-submit/test/slurm-fixtures.ts";
import { cliPath, runCli } from "../support/cli.ts";
import { submittedRecords, writeCompletedSlurm } from "../support/fake-slurm.ts";
import { describeSlurm, requireCluster } from "../support/slurm.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ours: string[] = [];
afterAll(async () => {
  await cancel(ours);
});

describeSlurm("chaos: a submitter paused past the stale-lock time", () => {
  it("stops cleanly without writing when it resumes; the one that took over submits every run exactly once", async () => {
    requireCluster();
    const dir = mkdtempSync(join(tmpdir(), "sp-lock-pause-"));
    const runs = Array.from({ length: 12 }, (_, i) => tinyRun(dir, `splock-pause-${i}`, "true"));
    const input = join(dir, "runs.ndjson");
    writeFileSync(input, ndjson(runs));
    const state = join(dir, "state");
    const ledgerPath = join(state, "ledger.ndjson");
    const ledgerLines = () => (existsSync(ledgerPath) ? readFileSync(ledgerPath, "utf8").split("\n").filter(Boolean) : []);
    const args = ["--state", state, "--wait-lock", "--lock-stale", "5s", "--stagger", "300ms", "--quiet", input];

    const paused = runCli("slurm-submit", args);
    const t0 = Date.now();
    while (ledgerLines().length < 4 && Date.now() - t0 < 30_000) await sleep(5);
    paused.kill("SIGSTOP");
    const atPause = ledgerLines().length;
    await sleep(6500); // past --lock-stale: the lock is stale, a second submitter takes it over
    const second = await runCli("slurm-submit", args);
    expect(second.exitCode, String(second.stderr)).toBe(0);
    const afterSecond = ledgerLines().length;
    paused.kill("SIGCONT");
    const first = await paused;

    expect(first.exitCode).toBe(1);
    const stderr = String(first.stderr);
    expect(stderr).toMatch(/lost its lock/);
    expect(stderr).not.toMatch(/TypeError|ECOMPROMISED|Unable to update lock|\n\s+at /);
    expect(ledgerLines().length, "the resumed submitter wrote nothing").toBe(afterSecond);
    expect(afterSecond).toBeGreaterThan(atPause);

    const jobOf = new Map<string, string>();
    for (const l of ledgerLines()) {
      const e = JSON.parse(l) as { run_id: string; job_id?: string };
      if (e.job_id) jobOf.set(e.run_id, e.job_id);
    }
    ours.push(...jobOf.values());
    for (const run of runs) expect(jobOf.has(String(run.id)), String(run.name)).toBe(true);
    const tags = runs.map((r) => taggedJobName(String(r.name), String(r.id)));
    await waitForSacct(tags);
    const { squeue, sacct } = await countByName(tags);
    for (const t of tags) {
      expect(squeue.get(t)?.length ?? 0, `${t} in squeue`).toBe(1);
      expect(sacct.get(t)?.length ?? 0, `${t} in sacct`).toBe(1);
    }
  }, 120_000);
});

describe("a command that exits on a closed pipe releases its state lock", () => {
  it("slurm-poll --once | head -1, twice in a row: the second is not refused as locked", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-lock-epipe-"));
    // A stand-in squeue/sacct (every job COMPLETED): the lock, not Slurm, is under test.
    writeCompletedSlurm(join(dir, "bin"));
    writeFileSync(join(dir, "jobs.ndjson"), submittedRecords(3000));
    const env = { ...process.env, SLURMPIPE_SLURM_BIN: join(dir, "bin") };
    const { execa } = await import("execa");
    for (let round = 0; round < 2; round++) {
      // Two processes joined by a real pipe; head exits after one line, poll gets EPIPE.
      const poll = execa("node", [cliPath("slurm-poll"), "--once", "--state", join(dir, "state")], { env, cwd: dir, inputFile: join(dir, "jobs.ndjson"), reject: false });
      const head = poll.pipe("head", ["-1"]);
      const [p, h] = await Promise.all([poll, head]);
      expect(String(h.stdout).split("\n")).toHaveLength(1);
      expect(String(p.stderr), `round ${round}`).not.toMatch(/locked by another/);
      expect(p.exitCode, `round ${round}: ${String(p.stderr)}`).toBe(0);
      expect(existsSync(join(dir, "state", "poll", "lock")), `round ${round}: lock left behind`).toBe(false);
    }
  });
});
