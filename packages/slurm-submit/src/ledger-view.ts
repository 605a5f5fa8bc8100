import type { Ledger, LedgerEntry } from "@slurmpipe/core";

export type JobEntry = Extract<LedgerEntry, { t: "submitted" | "reconciled" }>;
export type IntentEntry = Extract<LedgerEntry, { t: "intent" }>;

/** Fields slurm-submit adds to ledger lines beyond core's types (readers ignore unknown fields). */
export interface EntryExtras {
  /** The array script's id (script.array.id), on every entry of an array task. */
  array_id?: string;
  array_task?: number;
  /** Intent only: which host and process ran sbatch, to find an orphaned sbatch after a crash. */
  host?: string;
  pid?: number;
}

export function extras(entry: LedgerEntry): EntryExtras {
  return entry as unknown as EntryExtras;
}

/**
 * What the ledger says about every run: its latest entry, the highest attempt used, the last job
 * it got, and names -> run ids (dependencies may name runs). Updated as entries are appended.
 */
export class LedgerView {
  readonly latest = new Map<string, LedgerEntry>();
  readonly maxAttempt = new Map<string, number>();
  readonly lastJob = new Map<string, JobEntry>();
  readonly runByName = new Map<string, string>();
  readonly maxArrayAttempt = new Map<string, number>();
  /** Every job name this state directory submitted (for --max-in-flight). */
  readonly jobNames = new Set<string>();

  constructor(entries: readonly LedgerEntry[] = []) {
    for (const e of entries) this.apply(e);
  }

  apply(e: LedgerEntry): void {
    this.latest.set(e.run_id, e);
    this.maxAttempt.set(e.run_id, Math.max(this.maxAttempt.get(e.run_id) ?? 0, e.attempt));
    const arrayId = extras(e).array_id;
    if (arrayId) this.maxArrayAttempt.set(arrayId, Math.max(this.maxArrayAttempt.get(arrayId) ?? 0, e.attempt));
    if (e.t === "intent" && e.name) this.runByName.set(e.name, e.run_id);
    if (e.t === "submitted" || e.t === "reconciled") {
      this.lastJob.set(e.run_id, e);
      this.jobNames.add(e.job_name);
      const name = e.record?.name;
      if (typeof name === "string") this.runByName.set(name, e.run_id);
    }
  }
}

/**
 * Appends several entries with ONE write and ONE fsync (an array of 1,000 tasks would otherwise
 * cost 1,000 fsyncs). Same format as core's Ledger.append; core lacks a batch append.
 */
export async function appendEntries(ledger: Ledger, entries: readonly LedgerEntry[], view?: LedgerView): Promise<void> {
  await ledger.appendMany(entries);
  if (view) for (const e of entries) view.apply(e);
}

/** Drops a line torn by a crash mid-append (see core's Ledger.repairTorn). */
export function repairTornLedger(ledger: Ledger): Promise<boolean> {
  return ledger.repairTorn();
}
