import type { Item } from "./items.ts";
import type { JobEntry, NewEntry } from "./ledger-view.ts";
import type { Edit } from "./record-text.ts";

// What slurm-submit writes about a run: its error, its record with a job, the array fields of its ledger lines.

/** The `stage` of slurm-submit's error records: its own are tried again, any other stage's pass through. */
export const STAGE = "slurm-submit";

/** Records a change to the item's record (applied when it is written out). */
export function edit(item: Item, change: Edit): void {
  (item.edits ??= []).push(change);
  if (change.drop?.includes("error")) item.error = undefined;
}

/** `{...record, error}`. */
export function setError(item: Item, code: string, message: string, now: number): void {
  edit(item, { set: { error: { stage: STAGE, code, message, at: new Date(now).toISOString() } } });
  item.error = { stage: STAGE, message };
}

/**
 * Adds the array fields to a ledger entry the caller has just built. Assigned, not spread: a spread
 * copy with two more fields takes ~500 bytes in V8, the entry itself ~150, and 100,000 intents are
 * held from their append until their result.
 */
export function withExtras<E extends NewEntry>(entry: E, item: Item): E {
  if (item.array) Object.assign(entry, { array_id: item.array.key, array_task: item.array.index });
  return entry;
}

export function jobOf(e: JobEntry): Record<string, unknown> {
  if (e.job) return e.job;
  return { id: e.job_id, name: e.job_name, attempt: e.attempt, submitted_at: e.at, ...(e.cluster ? { cluster: e.cluster } : {}) };
}

const STALE_WITH_A_NEW_JOB = ["state", "report", "error", "dry_run", "planned", "sbatch_argv"] as const;

/** The record as emitted with a (new) job: an old job's state and report no longer apply. */
export function setOutputJob(item: Item, job: Record<string, unknown>): void {
  edit(item, { drop: STALE_WITH_A_NEW_JOB, set: { job } });
}
