/**
 * The state directory (default `.slurmpipe/`) is what makes submission idempotent and polling
 * restartable. `ledger.ndjson` is append-only; every line is fsynced before the next step:
 *   intent     written BEFORE sbatch runs: if we crash after it, the job may exist -> reconcile by tag
 *   submitted  sbatch answered with a job id (carries the full record, so `slurm-poll --state` needs no pipe)
 *   reconciled the job was found by its tag in squeue/sacct after a crash or a timeout
 *   failed     permanent failure, no job was created (or the job record is known to be dead)
 *   abandoned  an intent whose job was proven absent, so it may be submitted again
 */
export type LedgerEntry =
  | { t: "intent"; run_id: string; attempt: number; job_name: string; at: string; argv: string[]; name?: string; host?: string; pid?: number; array_id?: string; array_task?: number }
  | {
      t: "submitted" | "reconciled";
      run_id: string;
      attempt: number;
      job_id: string;
      job_name: string;
      at: string;
      cluster?: string;
      via?: "sbatch" | "squeue" | "sacct" | "local";
      /** The record as emitted downstream (with `job`). */
      record?: Record<string, unknown>;
    }
  | { t: "failed"; run_id: string; attempt: number; at: string; message: string; code?: string; job_id?: string }
  | { t: "abandoned"; run_id: string; attempt: number; at: string; reason: string };

export const LEDGER_FILE = "ledger.ndjson";

const ENTRY_KINDS = new Set(["intent", "submitted", "reconciled", "failed", "abandoned"]);

/**
 * One ledger line as an entry, or undefined when it is not one: not JSON, or JSON that is not an
 * entry (`null`, an array, an object without its kind, run id and attempt). Every ledger reader
 * calls this, so a line is judged the same way everywhere (a `null` line was a TypeError).
 */
export function parseLedgerLine(text: string): LedgerEntry | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  const e = v as { t?: unknown; run_id?: unknown; attempt?: unknown };
  if (typeof e.t !== "string" || !ENTRY_KINDS.has(e.t) || typeof e.run_id !== "string" || typeof e.attempt !== "number") return undefined;
  return v as LedgerEntry;
}
