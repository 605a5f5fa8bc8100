import type { LedgerEntry, RunRecord } from "@slurmpipe/core";
import type { Item } from "./items.ts";
import type { JobEntry } from "./ledger-view.ts";

// What slurm-submit writes about a run: its error, its record with a job, the array fields of its ledger lines.

/** The `stage` of slurm-submit's error records: its own are tried again, any other stage's pass through. */
export const STAGE = "slurm-submit";

export function withError(record: RunRecord, code: string, message: string, now: number): RunRecord {
  return { ...record, error: { stage: STAGE, code, message, at: new Date(now).toISOString() } };
}

export function withExtras<E extends LedgerEntry>(entry: E, item: Item): E {
  return item.array ? ({ ...entry, array_id: item.array.key, array_task: item.array.index } as E) : entry;
}

export function jobOf(e: JobEntry): Record<string, unknown> {
  const recorded = e.record?.job;
  if (recorded && typeof recorded === "object") return recorded as Record<string, unknown>;
  return { id: e.job_id, name: e.job_name, attempt: e.attempt, submitted_at: e.at, ...(e.cluster ? { cluster: e.cluster } : {}) };
}

/** The record as emitted with a (new) job: an old job's state and report no longer apply. */
export function outputRecord(item: Item, job: Record<string, unknown>): RunRecord {
  const { state: _s, report: _r, error: _e, dry_run: _d, planned: _p, sbatch_argv: _a, ...rest } = item.record as RunRecord & Record<string, unknown>;
  const keepState = item.status === "done" && !item.fresh;
  return { ...rest, ...(keepState && _s ? { state: _s } : {}), ...(keepState && _r ? { report: _r } : {}), job } as RunRecord;
}
