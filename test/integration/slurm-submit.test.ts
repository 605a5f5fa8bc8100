import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { cancel, countByName, ndjson, tinyRun, waitForSacct, wrapperBin } from "../../packages/slurm-submit/test/slurm-fixtures.ts";
import { records, runCli } from "../support/cli.ts";
import { describeSlurm, requireCluster, waitForJobs } from "../support/slurm.ts";

const ours: string[] = [];
afterAll(async () => {
  await cancel(ours);
});

type Rec = Record<string, unknown> & { job?: Record<string, unknown>; error?: Record<string, unknown> };
const jobName = (r: Rec) => String(r.job?.name);

describeSlurm("slurm-submit against the real local Slurm", () => {
  it("submits 10 scripts once; a rerun submits nothing; --resubmit failed resubmits only the failed one", async () => {
    requireCluster();
    const dir = mkdtempSync(join(tmpdir(), "sp-submit-it-"));
    const runs = Array.from({ length: 10 }, (_, i) => tinyRun(dir, `spsub-it-${i}`, i === 3 ? "exit 3" : "sleep 1"));
    const input = ndjson(runs);
    const state = join(dir, "state");

    const first = await runCli("slurm-submit", ["--state", state], { input });
    expect(first.stderr).toContain("10 submitted");
    expect(first.exitCode).toBe(0);
    const out = records(first.stdout) as Rec[];
    expect(out).toHaveLength(10);
    for (const r of out) {
      expect(r.job?.id).toMatch(/^\d+$/);
      expect(r.job?.cluster).toBeTruthy();
      expect(jobName(r)).toMatch(new RegExp(`^${String(r.name)}\\.sp[0-9a-f]{10}$`));
      ours.push(String(r.job?.id));
    }
    const names = out.map(jobName);

    const second = await runCli("slurm-submit", ["--state", state], { input });
    expect(second.exitCode).toBe(0);
    expect(second.stderr).toContain("0 submitted");
    expect((records(second.stdout) as Rec[]).map((r) => r.job?.id)).toEqual(out.map((r) => r.job?.id));

    const states = await waitForJobs(out.map((r) => String(r.job?.id)));
    expect(states.get(String(out[3]!.job?.id))).toMatch(/^FAILED/);
    const counts = await waitForSacct(names);
    for (const n of names) expect(counts.get(n)).toHaveLength(1);

    const third = await runCli("slurm-submit", ["--state", state, "--resubmit", "failed"], { input });
    expect(third.exitCode).toBe(0);
    const again = records(third.stdout) as Rec[];
    const resubmitted = again.filter((r) => r.job?.attempt === 2);
    expect(resubmitted.map((r) => r.name)).toEqual(["spsub-it-3"]);
    expect(resubmitted[0]!.job?.previous_ids).toEqual([out[3]!.job?.id]);
    expect(jobName(resubmitted[0]!)).toMatch(/\.sp[0-9a-f]{10}r2$/);
    ours.push(String(resubmitted[0]!.job?.id));
    // Nothing else was submitted again: one job per original tag, one for the r2 tag.
    const after = await countByName([...names, jobName(resubmitted[0]!)]);
    for (const n of names) expect(after.squeue.get(n) ?? after.sacct.get(n)).toHaveLength(1);
    expect(after.squeue.get(jobName(resubmitted[0]!))).toHaveLength(1);
  });

  it("sbatch that creates the job, then reports a socket timeout and exits 1: reconciled, exactly one job", async () => {
    requireCluster();
    const dir = mkdtempSync(join(tmpdir(), "sp-submit-it-"));
    const bin = await wrapperBin(
      dir,
      (real) =>
        `#!/bin/sh\n"${real}" "$@" > /dev/null || exit $?\necho "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation" >&2\nexit 1\n`,
    );
    const runs = [tinyRun(dir, "spsub-it-timeout-a"), tinyRun(dir, "spsub-it-timeout-b")];
    const state = join(dir, "state");
    const r = await runCli("slurm-submit", ["--state", state, "--slurm-bin", bin], { input: ndjson(runs) });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain("Socket timed out");
    expect(r.stderr).toContain("2 reconciled");
    const out = records(r.stdout) as Rec[];
    for (const rec of out) {
      expect(rec.job?.reconciled_via).toBe("squeue");
      ours.push(String(rec.job?.id));
    }
    const counts = await countByName(out.map(jobName));
    for (const rec of out) expect(counts.squeue.get(jobName(rec))).toEqual([rec.job?.id]);
    const ledger = readFileSync(join(state, "ledger.ndjson"), "utf8").trim().split("\n").map((l) => JSON.parse(l).t);
    expect(ledger).toEqual(["intent", "reconciled", "intent", "reconciled"]);
    // A rerun (through the real sbatch) submits nothing either.
    const again = await runCli("slurm-submit", ["--state", state], { input: ndjson(runs) });
    expect(again.stderr).toContain("0 submitted");
  });

  it("an invalid partition gives an error record with sbatch's message; the other run is submitted; exit 1", async () => {
    requireCluster();
    const dir = mkdtempSync(join(tmpdir(), "sp-submit-it-"));
    const bad = tinyRun(dir, "spsub-it-badpart", "true", ["-p nosuchpartition"]);
    const good = tinyRun(dir, "spsub-it-goodpart", "true");
    const state = join(dir, "state");
    const r = await runCli("slurm-submit", ["--state", state], { input: ndjson([bad, good]) });
    expect(r.exitCode).toBe(1);
    const out = records(r.stdout) as Rec[];
    expect(out[0]!.error).toMatchObject({ stage: "slurm-submit", code: "invalid_partition" });
    expect(String(out[0]!.error?.message)).toContain("Invalid partition name specified");
    expect(out[0]!.job).toBeUndefined();
    expect(out[1]!.job?.id).toMatch(/^\d+$/);
    ours.push(String(out[1]!.job?.id));
  });

  it("--dry-run prints the argv and submits nothing; a locked state dir is refused with exit 2", async () => {
    requireCluster();
    const dir = mkdtempSync(join(tmpdir(), "sp-submit-it-"));
    const run = tinyRun(dir, "spsub-it-dry");
    const state = join(dir, "state");
    const dry = await runCli("slurm-submit", ["--state", state, "--dry-run"], { input: ndjson([run]) });
    expect(dry.exitCode).toBe(0);
    const rec = records(dry.stdout)[0] as Rec;
    expect(rec.dry_run).toBe(true);
    expect(dry.stderr).toContain("would run");
    const counts = await countByName([String((rec.sbatch_argv as string[])[2]).replace("--job-name=", "")]);
    expect(counts.squeue.size + counts.sacct.size).toBe(0);

    // Hold the lock with a slow sbatch, then try a second process.
    const bin = await wrapperBin(dir, (real) => `#!/bin/sh\nsleep 3\nexec "${real}" "$@"\n`);
    writeFileSync(join(dir, "in.ndjson"), ndjson([run]));
    const holder = runCli("slurm-submit", ["--state", state, "--slurm-bin", bin, join(dir, "in.ndjson")]);
    // The holder has the lock once its intent is in the ledger (its sbatch then sleeps 3 s).
    const ledger = join(state, "ledger.ndjson");
    for (let i = 0; i < 300 && !(existsSync(ledger) && readFileSync(ledger, "utf8").includes('"intent"')); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const second = await runCli("slurm-submit", ["--state", state], { input: ndjson([run]) });
    expect(second.exitCode).toBe(2);
    expect(second.stderr).toContain("locked");
    const waited = runCli("slurm-submit", ["--state", state, "--wait-lock", "30s"], { input: ndjson([run]) });
    const h = await holder;
    expect(h.exitCode).toBe(0);
    const w = await waited;
    expect(w.exitCode).toBe(0);
    expect(w.stderr).toContain("0 submitted");
    const id = String((records(h.stdout)[0] as Rec).job?.id);
    ours.push(id);
    expect((records(w.stdout)[0] as Rec).job?.id).toBe(id);
  });
});
