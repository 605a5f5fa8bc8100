import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { idList } from "../src/submit-log.ts";
import { FakeSlurm, SUBMITTED, ac, record, runId, runPoll, sq } from "./fake-slurm.ts";

const TS = String.raw`\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\]`;

/** An experiment directory (seed 002's layout) and a ledger: rank8 submitted as job 43, rank16's sbatch failed. */
function experiment() {
  const root = mkdtempSync(join(tmpdir(), "sp-poll-sublog-"));
  const exp = join(root, "cap_4L_lora_lr_sweep");
  for (const run of ["rank8", "rank16"]) {
    mkdirSync(join(exp, run), { recursive: true });
    writeFileSync(join(exp, run, "finetune.slurm"), "#!/bin/bash\ntrue\n");
  }
  writeFileSync(join(exp, "experiment_summary.md"), "# cap_4L_lora_lr_sweep\n");
  const state = join(exp, ".slurmpipe");
  mkdirSync(state);
  const ok = record(0, "43", { name: "rank8", dir: join(exp, "rank8"), script: { path: join(exp, "rank8", "finetune.slurm") } });
  (ok.job as Record<string, unknown>).argv = ["sbatch", "finetune.slurm"];
  const bad = runId(1);
  const lines = [
    { t: "intent", run_id: runId(0), attempt: 1, job_name: "rank8.sp", at: SUBMITTED, argv: ["sbatch", "finetune.slurm"], name: "rank8" },
    { t: "submitted", run_id: runId(0), attempt: 1, job_id: "43", job_name: "rank8.sp", at: SUBMITTED, record: ok },
    { t: "intent", run_id: bad, attempt: 1, job_name: "rank16.sp", at: SUBMITTED, argv: ["sbatch", "finetune.slurm"], name: "rank16" },
    { t: "failed", run_id: bad, attempt: 1, at: SUBMITTED, message: "sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified", code: "sbatch_rejected" },
  ];
  writeFileSync(join(state, "ledger.ndjson"), lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
  const fake = new FakeSlurm();
  fake.squeue([sq("43", 0, "COMPLETED", { name: (ok.job as { name: string }).name })]);
  fake.sacct(ac("43", 0, "COMPLETED", "0:0", { name: (ok.job as { name: string }).name }));
  return { exp, state, fake, log: join(exp, "run-torchtune.log") };
}

describe("run-torchtune.log: the submission entries of seed 002 (issue #14 item 14)", () => {
  it("DISCOVER_EXPERIMENT, IDENTIFY_RUNS, SUBMIT_JOB, SUBMIT_FAILED, ALL_SUBMITTED, and a closing entry that says what failed", async () => {
    const { exp, state, fake, log } = experiment();
    const res = await runPoll(fake, state, null, { ledger: true, once: true, logFile: log });
    expect(res.err).toMatch(/rank16 was not submitted \(attempt 1\): sbatch: error: Batch job submission failed: Invalid account/);
    const text = readFileSync(log, "utf8");
    const order = [...text.matchAll(/^\[[^\]]+\] ([A-Z_]+):/gm)].map((m) => m[1]);
    expect(order).toEqual(["DISCOVER_EXPERIMENT", "IDENTIFY_RUNS", "SUBMIT_JOB", "SUBMIT_FAILED", "ALL_SUBMITTED", "STATE_CHANGE", "STATUS_CHECK", "ALL_COMPLETE"]);
    expect(text).toMatch(new RegExp(`^${TS} DISCOVER_EXPERIMENT: Found experiment\\nDetails: ${exp}/experiment_summary\\.md\\nResult: Experiment has 1 fine-tuning runs to watch\\n\\n`, "m"));
    expect(text).toMatch(/IDENTIFY_RUNS: Scanning for runs to submit\nDetails: Found 1 directories with finetune\.slurm files\nResult: 1 runs submitted, 1 failed to submit \(0 already running, 0 completed\)\n\n/);
    expect(text).toMatch(new RegExp(`SUBMIT_JOB: rank8\\nCommand: cd ${exp}/rank8 && sbatch finetune\\.slurm\\nResult: Job ID 43 submitted at `));
    expect(text).toMatch(/SUBMIT_FAILED: rank16\nCommand: sbatch finetune\.slurm\nError: sbatch: error: Batch job submission failed: Invalid account or account\/partition combination specified \(sbatch_rejected\)\nResult: not submitted: no job was created \(attempt 1\)\n\n/);
    expect(text).toMatch(/ALL_SUBMITTED: Job submission complete\nSummary: 1 jobs submitted successfully \(1 failures\)\nJob IDs: 43\nFailed: rank16 \(see SUBMIT_FAILED above; resubmit: slurm-submit --resubmit failed\)\n\n/);
    expect(text).toMatch(/ALL_COMPLETE: Monitoring finished, NOT all runs succeeded\nSummary: 1 jobs completed - 1 COMPLETED, 0 FAILED\nNot submitted: 1 run\(s\) - rank16: sbatch: error: Batch job submission failed/);
  });

  it("the next poll (a cron tick) writes no submission entry again, but its closing entry still names the run not submitted", async () => {
    const { state, fake, log } = experiment();
    await runPoll(fake, state, null, { ledger: true, once: true, logFile: log });
    const first = readFileSync(log, "utf8");
    await runPoll(fake, state, null, { ledger: true, once: true, logFile: log });
    const second = readFileSync(log, "utf8").slice(first.length);
    expect([...second.matchAll(/^\[[^\]]+\] ([A-Z_]+):/gm)].map((m) => m[1])).toEqual(["ALL_COMPLETE"]); // 43 is final: nothing to query
    expect(second).not.toMatch(/DISCOVER_EXPERIMENT|IDENTIFY_RUNS|SUBMIT_JOB|SUBMIT_FAILED|ALL_SUBMITTED/);
    expect(second).toMatch(/ALL_COMPLETE: Monitoring finished, NOT all runs succeeded\n[\s\S]*Not submitted: 1 run\(s\) - rank16/);
  });

  it("job ids: a range when consecutive, else a list", () => {
    expect(idList(["45", "43", "44"])).toBe("43-45");
    expect(idList(["43", "47"])).toBe("43, 47");
    expect(idList(["12_1", "12_2"])).toBe("12_1, 12_2");
    expect(idList([])).toBe("none");
  });
});
