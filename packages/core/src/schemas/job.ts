import * as z from "zod";
import { schemaVersion } from "./common.ts";

/**
 * blocked: PENDING with a dependency that can never be satisfied (reason DependencyNeverSatisfied):
 * the job will not run unless someone changes its dependency, so a watch counts it as settled.
 */
export const StateCategory = z.enum(["pending", "blocked", "active", "success", "failure", "uncertain"]);
export type StateCategory = z.infer<typeof StateCategory>;

/** What slurm-poll knows about one job (or array task) at one moment. */
export const JobState = z.looseObject({
  /** Long Slurm state name (COMPLETED, TIMEOUT, ...) or UNKNOWN when neither squeue nor sacct knows it. */
  state: z.string().min(1),
  category: StateCategory,
  /** True once the state can no longer change (see core's slurm/states). */
  terminal: z.boolean(),
  reason: z.string().optional(),
  /** "exit:signal" as Slurm prints it, e.g. "0:0", "1:0", "0:9". */
  exit_code: z.string().optional(),
  started_at: z.string().optional(),
  ended_at: z.string().optional(),
  elapsed_s: z.number().nonnegative().optional(),
  time_limit_s: z.number().nonnegative().optional(),
  node_list: z.string().optional(),
  restarts: z.number().int().nonnegative().optional(),
  /** Peak resident memory of any step, bytes (sacct MaxRSS). */
  max_rss_bytes: z.number().nonnegative().optional(),
  req_mem_bytes: z.number().nonnegative().optional(),
  /** When this state was last confirmed by squeue or sacct. */
  confirmed_at: z.string().optional(),
  source: z.enum(["squeue", "sacct", "local", "none"]).optional(),
  /** category "blocked": the upstream job ids whose failure blocks this job (from its dependency). */
  blocked_by: z.array(z.string()).optional(),
  /** Set by slurm-poll when something needs a person's eye, e.g. "too_many_requeues". */
  flag: z.string().optional(),
  /** slurm-poll --early: the job failed within its first minutes; the tail of its stderr file. */
  early_failure: z
    .looseObject({
      elapsed_s: z.number().nonnegative().optional(),
      path: z.string().optional(),
      tail: z.array(z.string()).optional(),
      error: z.string().optional(),
    })
    .optional(),
});
export type JobState = z.infer<typeof JobState>;

/** One state change of one job, emitted by slurm-poll. */
export const JobEvent = z.looseObject({
  kind: z.literal("event"),
  v: schemaVersion,
  run_id: z.string().optional(),
  name: z.string().optional(),
  job_id: z.string(),
  array_task: z.number().int().nonnegative().optional(),
  from: z.string().nullable(),
  to: z.string(),
  /** Category of `to` (see StateCategory); readers of old events derive it from `to`. */
  category: StateCategory.optional(),
  /** When slurm-poll saw the change. */
  at: z.string(),
  /** Slurm's own start and end times of the job (squeue %S / sacct Start, End), when known. */
  started_at: z.string().optional(),
  ended_at: z.string().optional(),
  blocked_by: z.array(z.string()).optional(),
  reason: z.string().optional(),
  exit_code: z.string().optional(),
  elapsed_s: z.number().nonnegative().optional(),
  node_list: z.string().optional(),
  restarts: z.number().int().nonnegative().optional(),
});
export type JobEvent = z.infer<typeof JobEvent>;
