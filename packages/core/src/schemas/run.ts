import * as z from "zod";
import { Resources, schemaVersion } from "./common.ts";
import { StageError } from "./error.ts";
import { JobState } from "./job.ts";
import { LogReport } from "./report.ts";

/**
 * A run flows through the whole pipeline as ONE record that each stage enriches:
 *   sweep-gen    -> id, name, params, command, resources
 *   slurm-render -> script, logs
 *   slurm-submit -> job
 *   slurm-poll   -> state (and separate `event` records)
 *   log-parse    -> report
 * Every object is loose: fields a stage does not know pass through untouched.
 */
export const RunScript = z.looseObject({
  path: z.string().min(1),
  sha256: z.string().optional(),
  /** Set when this script is one array job for many runs (slurm-render --array). */
  array: z
    .looseObject({
      index: z.number().int().nonnegative(),
      /** Path of the params table the array script reads its task's arguments from. */
      table: z.string().optional(),
      /** Array spec as given to sbatch, e.g. "0-99%10". */
      spec: z.string().optional(),
    })
    .optional(),
  /**
   * How slurm-render made this script: the profile and its command-line arguments (input files
   * left out), so that a printed rerun command renders the same script again.
   */
  rendered_with: z
    .looseObject({
      profile: z.string().optional(),
      args: z.array(z.string()),
    })
    .optional(),
  /**
   * The site profile's limits of the run's partition (slurm-render): slurm-submit paces at
   * `max_submit_jobs` when --max-in-flight is not given.
   */
  site_limits: z
    .looseObject({
      profile: z.string().optional(),
      partition: z.string().optional(),
      checked: z.string().optional(),
      max_submit_jobs: z.number().int().positive().optional(),
      max_running_jobs: z.number().int().positive().optional(),
      source: z.string().optional(),
    })
    .optional(),
});
export type RunScript = z.infer<typeof RunScript>;

/** stdout / stderr path patterns as sbatch understands them (`%j`, `%x`, `%A`, `%a`). */
export const LogPaths = z.looseObject({
  stdout: z.string().optional(),
  stderr: z.string().optional(),
});
export type LogPaths = z.infer<typeof LogPaths>;

export const SubmittedJob = z.looseObject({
  /** Job id as Slurm prints it: "1234" or, for array tasks, "1234_7". */
  id: z.string().min(1),
  array_job_id: z.string().optional(),
  /** Slurm's raw id of an array task once it started (sacct JobIDRaw): what `%j` expands to. */
  raw_id: z.string().optional(),
  array_task: z.number().int().nonnegative().optional(),
  cluster: z.string().optional(),
  /** Full job name as submitted, including the run-id tag. */
  name: z.string().optional(),
  submitted_at: z.string().optional(),
  argv: z.array(z.string()).optional(),
  attempt: z.number().int().positive().optional(),
  backend: z.enum(["slurm", "local"]).optional(),
});
export type SubmittedJob = z.infer<typeof SubmittedJob>;

export const RunRecord = z.looseObject({
  kind: z.literal("run").optional(),
  v: schemaVersion,
  /** Stable content-derived id (same params, same id on every machine). */
  id: z.string().min(1),
  /** Readable unique name, safe as a directory and job name. */
  name: z.string().min(1),
  group: z.string().optional(),
  variant: z.string().optional(),
  params: z.record(z.string(), z.unknown()).optional(),
  /**
   * The parameters as the sweep generated them (sweep-gen), kept when `params` is changed later
   * (a suggested fix applied with jq): `paramChanges` tells which runs ran with other values.
   */
  sweep_params: z.record(z.string(), z.unknown()).optional(),
  /** The training command: argv array (preferred, no shell quoting issues) or a shell line. */
  command: z.union([z.array(z.string()), z.string()]).optional(),
  resources: Resources.optional(),
  /** Directory the run works in (outputs, checkpoints). */
  dir: z.string().optional(),
  priority: z.number().optional(),
  /** Run ids (or names) this run depends on: submitted with --dependency=afterok. */
  depends_on: z.array(z.string()).optional(),
  /** Glob patterns (relative to dir) of files the run must produce, for archive checks. */
  outputs: z.array(z.string()).optional(),
  control: z.boolean().optional(),
  script: RunScript.optional(),
  logs: LogPaths.optional(),
  job: SubmittedJob.optional(),
  state: JobState.optional(),
  report: LogReport.optional(),
  error: StageError.optional(),
});
export type RunRecord = z.infer<typeof RunRecord>;
