import { stat } from "node:fs/promises";
import { join } from "node:path";
import { LEDGER_FILE, type LedgerEntry, LedgerCorruptError, RunRecord, UsageError, scanLedgerFile } from "@slurmpipe/core";

/**
 * The attempts of a run (attempt N = the N-th job slurm-submit made for it: the first submission,
 * then each `--resubmit`). The input records carry only the attempt they are at; the earlier ones
 * come from slurm-submit's ledger (`submitted`/`reconciled` entries hold the record as it was
 * submitted, with its `job`, `logs` and `params`), or from earlier records of the same run in the
 * input (`archive attempt1.ndjson final.ndjson`), which may also carry log-parse's `report`.
 * A requeued job keeps its id and its attempt: one attempt, one set of log files.
 */
export interface Attempt {
  attempt: number;
  /** The record of this attempt: its job, log patterns, params, and report when the input had one. */
  record: RunRecord;
  /** When the attempt's job was submitted (job.submitted_at, else the ledger line's time). */
  submittedAt?: string;
}

/** What the ledger says about each run: its attempts' records, by run id then attempt. */
export type LedgerAttempts = Map<string, Map<number, RunRecord>>;

/**
 * The ledger's job attempts of the runs `runIds` (`submitted` and `reconciled` entries; the later
 * line of one attempt wins). Only what archiving an attempt needs is kept of each record (its job,
 * log patterns, script, params), so a 100,000-run ledger of which a few runs are archived costs
 * little. An entry without a record (older versions) is a record with just the job. A missing
 * ledger is an empty one; a torn last line (a crash mid-append) is ignored.
 */
export async function readLedgerAttempts(stateDir: string, runIds: ReadonlySet<string>, warn: (message: string) => void): Promise<LedgerAttempts> {
  const out: LedgerAttempts = new Map();
  const path = join(stateDir, LEDGER_FILE);
  const take = (e: LedgerEntry) => {
    if ((e.t !== "submitted" && e.t !== "reconciled") || !runIds.has(e.run_id)) return;
    const raw = e.record ?? {};
    const job: Record<string, unknown> = { submitted_at: e.at, ...((raw.job as Record<string, unknown> | undefined) ?? {}), id: e.job_id, name: e.job_name, attempt: e.attempt };
    const kept: Record<string, unknown> = { id: e.run_id, name: typeof raw.name === "string" ? raw.name : e.run_id, job };
    for (const k of ["logs", "script", "params", "sweep_params"]) if (raw[k] !== undefined) kept[k] = raw[k];
    const parsed = RunRecord.safeParse(kept);
    if (!parsed.success) {
      warn(`${path}: the record of ${e.run_id} attempt ${e.attempt} is not a run record; its attempt is skipped`);
      return;
    }
    let attempts = out.get(e.run_id);
    if (!attempts) out.set(e.run_id, (attempts = new Map()));
    attempts.set(e.attempt, parsed.data);
  };
  try {
    const pass = await scanLedgerFile(path, (s) => take(s.entry));
    if (pass.torn !== undefined) warn(`${path}:${pass.torn}: a line torn by a crash is ignored`);
  } catch (e) {
    if (e instanceof LedgerCorruptError) throw new Error(`${e.message}: earlier attempts cannot be read (give --state another directory)`);
    throw e;
  }
  return out;
}

/**
 * `--state`: a directory given must exist; the default one is read when it exists. Undefined when
 * there is no state directory to read.
 */
export async function stateDirectory(dir: string, given: boolean, shown: string): Promise<string | undefined> {
  const isDir = await stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (isDir) return dir;
  if (given) throw new UsageError(`--state: ${shown} is not a directory (expected slurm-submit's state directory, which holds ledger.ndjson)`);
  return undefined;
}

const attemptOf = (r: RunRecord): number | undefined => r.job?.attempt;

/**
 * Every attempt of one run, oldest first: the ledger's, overlaid by the input's records of the same
 * run (they are newer: a poll's state, a log-parse report). `records` are the input records of the
 * run; the last one of the highest attempt is the run's record. Undefined when no attempt number
 * is known (a record never submitted, or made by hand without `job.attempt`).
 */
export function runAttempts(records: RunRecord[], ledger: Map<number, RunRecord> | undefined): Attempt[] | undefined {
  const byAttempt = new Map<number, RunRecord>(ledger ?? []);
  const byJob = new Map([...byAttempt].map(([n, r]) => [r.job?.id, n]));
  for (const r of records) {
    // A record without an attempt number (made by hand) whose job the ledger knows is that attempt.
    const n = attemptOf(r) ?? (r.job?.id !== undefined ? byJob.get(r.job.id) : undefined);
    if (n !== undefined) byAttempt.set(n, r);
  }
  if (byAttempt.size === 0) return undefined;
  return [...byAttempt.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([attempt, record]) => {
      const submittedAt = typeof record.job?.submitted_at === "string" ? record.job.submitted_at : undefined;
      return { attempt, record, ...(submittedAt ? { submittedAt } : {}) };
    });
}

/**
 * The attempt that wrote a file last modified at `mtimeMs`: the last one submitted at or before
 * it (an attempt is submitted after the one before it ended, so a file last written before a
 * resubmission is the earlier attempt's). A file older than every submission goes to the first
 * attempt; without every attempt's submission time, to the latest.
 */
export function attemptAt(attempts: Attempt[], mtimeMs: number): Attempt {
  const times = attempts.map((a) => (a.submittedAt ? Date.parse(a.submittedAt) : Number.NaN));
  if (times.some((t) => !Number.isFinite(t))) return attempts.at(-1)!;
  let found = attempts[0]!;
  for (let i = 0; i < attempts.length; i++) if (times[i]! <= mtimeMs) found = attempts[i]!;
  return found;
}
