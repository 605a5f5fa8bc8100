import { type JobId, parseJobId } from "@slurmpipe/core";
import type { SubmittedJob } from "@slurmpipe/core";

/**
 * Every tracked job is keyed the way Slurm prints one job: "123" or, for an array task, "123_4"
 * (never the task's raw id, which only exists once the task started).
 */
export function jobKey(id: Pick<JobId, "jobId" | "arrayTask" | "hetOffset">): string {
  let key = String(id.jobId);
  if (id.arrayTask !== undefined) key += `_${id.arrayTask}`;
  if (id.hetOffset !== undefined) key += `+${id.hetOffset}`;
  return key;
}

export interface TrackedId {
  key: string;
  /** The id to ask squeue/sacct for: the array job id for tasks (it lists every task). */
  queryId: string;
  arrayJobId?: string;
  arrayTask?: number;
}

/** The key of a submitted job, or an error message (the record's job id is not one Slurm prints). */
export function trackedId(job: Pick<SubmittedJob, "id" | "array_job_id" | "array_task">): TrackedId | { error: string } {
  let id: JobId;
  try {
    id = parseJobId(job.id);
  } catch (e) {
    return { error: (e as Error).message };
  }
  if (id.step !== undefined) return { error: `job id ${JSON.stringify(job.id)} names a step, not a job` };
  if (id.taskSpec !== undefined) return { error: `job id ${JSON.stringify(job.id)} names several array tasks; track one record per task` };
  if (id.arrayTask === undefined && job.array_task !== undefined) {
    // {id: "123", array_task: 4} or {id: <raw task id>, array_job_id: "123", array_task: 4}
    const base = job.array_job_id !== undefined ? Number.parseInt(job.array_job_id, 10) : id.jobId;
    if (!Number.isFinite(base)) return { error: `array_job_id ${JSON.stringify(job.array_job_id)} is not a job id` };
    id = { jobId: base, arrayTask: job.array_task };
  }
  const key = jobKey(id);
  const base = String(id.jobId);
  return id.arrayTask !== undefined ? { key, queryId: base, arrayJobId: base, arrayTask: id.arrayTask } : { key, queryId: base };
}

/** A job or task id exactly as jobKey would print it (no sign, no leading zero, exact as a number). */
const PLAIN_KEY = /^[1-9]\d{0,14}(?:_(?:0|[1-9]\d{0,14}))?$/;

/**
 * The keys one printed id stands for: "123_[4-6%2]" (a pending array record) stands for 123_4,
 * 123_5, 123_6. Undefined when the task list was cut ("..." or a missing "]") and cannot be trusted.
 */
export function keysOf(printed: string): string[] | undefined {
  // "123" and "123_4", nearly every line of squeue, are their own key: no parse (100,000 lines a cycle).
  if (PLAIN_KEY.test(printed)) return [printed];
  const id = parseJobId(printed);
  if (id.taskSpec !== undefined) {
    if (!id.arrayTasks) return undefined;
    return id.arrayTasks.map((t) => jobKey({ jobId: id.jobId, arrayTask: t, hetOffset: id.hetOffset }));
  }
  return [jobKey(id)];
}
