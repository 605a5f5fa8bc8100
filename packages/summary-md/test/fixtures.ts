import type { RunRecord } from "@slurmpipe/core";

/**
 * A realistic mixed sweep: 12 runs in 2 variants (S-core, S-adamw), every status a report must
 * handle, with log-parse reports shaped like real ones (evidence lines from the logs).
 */

const G = 1024 ** 3;

function curve(n: number, from: number, to: number, every = 10, noise = 0.03): { step: number; value: number; raw: string }[] {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = i / Math.max(1, n - 1);
    // Deterministic "noise" so goldens are stable.
    const wobble = 1 + noise * Math.sin(i * 1.7);
    const value = Number((from * (to / from) ** t * wobble).toFixed(4));
    out.push({ step: (i + 1) * every, value, raw: String(value) });
  }
  return out;
}

function spec(name: string, variant: string, lr: number, seed: number, extra: Partial<RunRecord> = {}): RunRecord {
  return {
    id: `id-${name}`,
    name,
    group: variant,
    params: { lr, seed, max_steps: 2000 },
    command: ["python", "train_cnn.py", `optim.lr=${lr}`, `seed=${seed}`],
    resources: { partition: "debug", mem: "32G", time: "02:00:00", gpus_per_node: 1 },
    ...extra,
  };
}

const logs = (_id: string) => ({ stdout: "logs/%x.%j.out", stderr: "logs/%x.%j.err" });

function job(id: string, name: string, attempt = 1) {
  return { id, cluster: "local", name: `${name}.spid-${name}`.slice(0, 60), submitted_at: "2025-10-24T00:05:10.000Z", attempt };
}

export function expectedRuns(): RunRecord[] {
  return [
    spec("core_lr0.1_s0", "S-core", 0.1, 0),
    spec("core_lr0.2_s0", "S-core", 0.2, 0),
    spec("core_lr0.05_s0", "S-core", 0.05, 0),
    spec("core_lr0.1_s1", "S-core", 0.1, 1),
    spec("core_lr0.2_s1", "S-core", 0.2, 1),
    spec("core_lr0.05_s1", "S-core", 0.05, 1),
    spec("adamw_lr0.001_s0", "S-adamw", 0.001, 0),
    spec("adamw_lr0.003_s0", "S-adamw", 0.003, 0),
    spec("adamw_lr0.001_s1", "S-adamw", 0.001, 1),
    spec("adamw_lr0.003_s1", "S-adamw", 0.003, 1),
    spec("adamw_lr0.01_s0", "S-adamw", 0.01, 0),
    spec("adamw_lr0.01_s1", "S-adamw", 0.01, 1),
  ];
}

/** The records as they come out of slurm-poll | log-parse (the MISSING run has none). */
export function sweepRecords(): Record<string, unknown>[] {
  const [c1, c2, c3, c4, c5, , a1, a2, a3, a4, a5, a6] = expectedRuns();
  const nanSeries = curve(12, 2.3, 1.4).concat([
    { step: 130, value: null as unknown as number, raw: "nan" },
    { step: 140, value: null as unknown as number, raw: "nan" },
  ]);
  return [
    {
      ...c1,
      logs: logs("1001"),
      job: job("1001", c1!.name),
      state: { state: "COMPLETED", category: "success", terminal: true, exit_code: "0:0", started_at: "2025-10-24T00:07:15.000Z", ended_at: "2025-10-24T01:07:15.000Z", elapsed_s: 3600, time_limit_s: 7200, max_rss_bytes: 12.5 * G, req_mem_bytes: 32 * G, node_list: "node01" },
      report: { steps_seen: 2000, loss: { first: 2.31, last: 0.412, min: 0.398, trend: "DECREASING" }, series: { loss: curve(40, 2.31, 0.41, 50) }, failures: [], benign_warnings: 2 },
    },
    {
      ...c2,
      job: job("1002", c2!.name),
      state: { state: "FAILED", category: "failure", terminal: true, exit_code: "1:0", reason: "NonZeroExitCode", started_at: "2025-10-24T00:07:16.000Z", ended_at: "2025-10-24T00:07:58.000Z", elapsed_s: 42, time_limit_s: 7200, node_list: "node01", early_failure: { elapsed_s: 42, path: "logs/core_lr0.2_s0.1002.err", tail: ['  File "data/loader.py", line 88, in collate_fn', "KeyError: 'labels'"] } },
      report: {
        steps_seen: 0,
        loss: { trend: "NO_DATA" },
        failures: [
          {
            class: "PYTHON_EXCEPTION",
            message: "KeyError: 'labels' in collate_fn (data/loader.py:88)",
            evidence: [
              { file: "logs/core_lr0.2_s0.1002.err", line: 41, text: '  File "data/loader.py", line 88, in collate_fn' },
              { file: "logs/core_lr0.2_s0.1002.err", line: 43, text: "KeyError: 'labels' | batch[`labels`] <missing>" },
            ],
            suggested: { action: "do_not_retry", retry: false, note: "a code error: rerunning unchanged fails the same way" },
          },
        ],
      },
    },
    {
      ...c3,
      job: job("1003", c3!.name),
      state: { state: "OUT_OF_MEMORY", category: "failure", terminal: true, exit_code: "0:125", started_at: "2025-10-24T00:07:17.000Z", ended_at: "2025-10-24T00:19:40.000Z", elapsed_s: 743, time_limit_s: 7200, max_rss_bytes: 31.6 * G, req_mem_bytes: 32 * G, node_list: "node02" },
      report: {
        steps_seen: 310,
        loss: { first: 2.29, last: 1.62, min: 1.6, trend: "DECREASING" },
        series: { loss: curve(31, 2.29, 1.62) },
        failures: [
          {
            class: "HOST_OOM",
            message: "the job step was killed by the cgroup out-of-memory handler",
            evidence: [{ file: "logs/core_lr0.05_s0.1003.err", line: 212, text: "slurmstepd: error: Detected 1 oom-kill event(s) in StepId=1003.batch. Some of your processes may have been killed by the cgroup out-of-memory handler." }],
            suggested: { action: "increase_mem", retry: true, changes: { resources: { mem: "38G" } }, note: "MaxRSS 31.6G x 1.2" },
          },
        ],
      },
    },
    {
      ...c4,
      job: job("1004", c4!.name),
      state: { state: "TIMEOUT", category: "failure", terminal: true, exit_code: "0:0", started_at: "2025-10-24T00:07:18.000Z", ended_at: "2025-10-24T02:07:48.000Z", elapsed_s: 7230, time_limit_s: 7200, max_rss_bytes: 14 * G, req_mem_bytes: 32 * G, node_list: "node01" },
      report: {
        steps_seen: 1650,
        loss: { first: 2.3, last: 0.52, min: 0.5, trend: "DECREASING" },
        series: { loss: curve(33, 2.3, 0.52, 50) },
        failures: [
          {
            class: "TIME_LIMIT",
            message: "cancelled by Slurm at the time limit",
            evidence: [{ file: "logs/core_lr0.1_s1.1004.err", line: 3, text: "slurmstepd: error: *** JOB 1004 ON node01 CANCELLED AT 2025-10-24T02:07:18 DUE TO TIME LIMIT ***" }],
            suggested: { action: "increase_time", retry: true, changes: { resources: { time: "03:00:00" } }, note: "1650 of 2000 steps in 02:00:00" },
          },
        ],
      },
    },
    {
      ...c5,
      job: job("1005", c5!.name),
      state: { state: "COMPLETED", category: "success", terminal: true, exit_code: "0:0", started_at: "2025-10-24T00:07:19.000Z", ended_at: "2025-10-24T00:40:00.000Z", elapsed_s: 1961, time_limit_s: 7200, max_rss_bytes: 12 * G, req_mem_bytes: 32 * G },
      report: {
        steps_seen: 140,
        loss: { first: 2.3, last: null, min: 1.38, trend: "NAN", first_nonfinite: { step: 130, raw: "nan", file: "logs/core_lr0.2_s1.1005.out", line: 133 } },
        series: { loss: nanSeries },
        failures: [
          {
            class: "NAN_LOSS",
            message: "loss became nan at step 130",
            evidence: [{ file: "logs/core_lr0.2_s1.1005.out", line: 133, text: "step 130 | loss nan | lr 0.2" }],
            suggested: { action: "lower_lr", retry: true, changes: { params: { lr: 0.1 } }, note: "halve the learning rate or clip gradients" },
          },
        ],
      },
    },
    {
      ...a1,
      job: job("1007", a1!.name),
      state: { state: "RUNNING", category: "active", terminal: false, started_at: "2025-10-24T00:30:00.000Z", elapsed_s: 1800, time_limit_s: 7200, node_list: "node03" },
      report: { steps_seen: 600, loss: { first: 2.3, last: 0.9, min: 0.88, trend: "DECREASING" }, series: { loss: curve(12, 2.3, 0.9, 50) } },
    },
    { ...a2, job: job("1008", a2!.name), state: { state: "PENDING", category: "pending", terminal: false, reason: "Priority", time_limit_s: 7200 } },
    { ...a3, job: job("1009", a3!.name), state: { state: "UNKNOWN", category: "uncertain", terminal: false } },
    { ...a4, error: { stage: "slurm-submit", message: "sbatch: error: Batch job submission failed: Invalid partition name specified", code: "invalid_partition" } },
    {
      ...a5,
      job: job("1011", a5!.name, 2),
      // No start time in the state: the poll events supply it.
      state: { state: "COMPLETED", category: "success", terminal: true, exit_code: "0:0", elapsed_s: 1500, time_limit_s: 7200, max_rss_bytes: 6 * G, req_mem_bytes: 32 * G, restarts: 1 },
      report: { steps_seen: 2000, loss: { first: 9.8, last: 0.012, min: 0.011, trend: "DECREASING" }, series: { loss: curve(40, 9.8, 0.012, 50, 0.05) } },
    },
    { ...a6, job: job("1012", a6!.name), state: { state: "CANCELLED by 0", category: "failure", terminal: true, exit_code: "0:15", started_at: "2025-10-24T00:08:00.000Z", ended_at: "2025-10-24T00:09:00.000Z", elapsed_s: 60, time_limit_s: 7200 } },
  ];
}

export function sweepEvents(): Record<string, unknown>[] {
  return [
    // As slurm-poll writes them: the poll time (`at`) and Slurm's own start and end of the job.
    { kind: "event", run_id: "id-adamw_lr0.01_s0", job_id: "1011", from: "PENDING", to: "RUNNING", category: "active", at: "2025-10-24T00:10:00.000Z", started_at: "2025-10-24T00:09:58.000Z" },
    {
      kind: "event",
      run_id: "id-adamw_lr0.01_s0",
      job_id: "1011",
      from: "RUNNING",
      to: "COMPLETED",
      category: "success",
      at: "2025-10-24T00:35:00.000Z",
      started_at: "2025-10-24T00:09:58.000Z",
      ended_at: "2025-10-24T00:34:58.000Z",
    },
  ];
}

export function ndjson(records: readonly unknown[]): string {
  return records.map((r) => JSON.stringify(r)).join("\n") + "\n";
}
