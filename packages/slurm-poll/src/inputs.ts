import { Ledger, type LedgerEntry, LedgerTail, RunRecord, zodField } from "@slurmpipe/core";
import { type TrackedId, trackedId } from "./ids.ts";

/** What poll does with one input object. */
export type Classified =
  | { kind: "pass"; value: Record<string, unknown>; warning?: string }
  | { kind: "track"; record: RunRecord; id: TrackedId }
  | { kind: "bad"; field?: string; message: string };

/**
 * Records that are not submitted runs pass through untouched (events of an earlier poll, records
 * with an `error`, records without `job` with a warning); a submitted run is validated and tracked.
 */
export function classify(value: Record<string, unknown>): Classified {
  if (value.kind !== undefined && value.kind !== "run") return { kind: "pass", value };
  if (value.error !== undefined) return { kind: "pass", value };
  if (value.job === undefined) {
    const id = typeof value.id === "string" ? value.id : "?";
    return { kind: "pass", value, warning: `run ${id} has no "job" (not submitted?): passed through, not polled` };
  }
  const parsed = RunRecord.safeParse(value);
  if (!parsed.success) return { kind: "bad", ...zodField(parsed.error) };
  const id = trackedId(parsed.data.job!);
  if ("error" in id) return { kind: "bad", field: "job.id", message: id.error };
  return { kind: "track", record: parsed.data, id };
}

/**
 * Submitted runs from slurm-submit's ledger: the record of each run's latest submitted (or
 * reconciled) attempt. Runs whose latest attempt failed before creating a job have no record.
 * Holds every entry in memory; poll itself follows the ledger with LedgerFollower.
 */
export async function ledgerRecords(stateDir: string): Promise<{ records: Record<string, unknown>[]; tornLine?: number }> {
  const { entries, tornLine } = await new Ledger(stateDir).read();
  const best = new Map<string, Extract<LedgerEntry, { t: "submitted" | "reconciled" }>>();
  for (const e of entries) {
    if ((e.t !== "submitted" && e.t !== "reconciled") || !e.record) continue;
    const prev = best.get(e.run_id);
    if (!prev || e.attempt >= prev.attempt) best.set(e.run_id, e);
  }
  const records = [...best.values()].map((e) => e.record!);
  return tornLine === undefined ? { records } : { records, tornLine };
}

/** A submission that failed before a job existed: a ledger `failed` entry, with its intent's name and argv. */
export interface FailedSubmission {
  runId: string;
  attempt: number;
  at: string;
  message: string;
  code?: string;
  name?: string;
  argv?: string[];
  /** Its ledger line. */
  line: number;
  /** A later attempt of the run was submitted. */
  superseded: boolean;
}

/** Where a run's latest submitted/reconciled entry is, and when the run first had one. */
interface Latest {
  attempt: number;
  /** Order of the run's first such entry in the ledger: records come out in that order. */
  seq: number;
  start: number;
  end: number;
  line: number;
}

/**
 * slurm-submit's ledger, followed: what `ledgerRecords` gives, without holding the file (~200 MB
 * at 100,000 runs) or its entries (poll peaked at ~900 MB) in memory. Core's LedgerTail reads only
 * what was appended since the last call (a watch re-reads the ledger every cycle without
 * re-tracking every unchanged run) under the ledger's crash rules; here each pass notes where each
 * run's latest attempt is, then reads and parses only those lines.
 */
export class LedgerFollower {
  private readonly tail: LedgerTail;
  private readonly runs = new Map<string, { attempt: number; seq: number }>();
  /** Submissions that failed (ledger `failed` entries) found by the last pass; taken by takeFailures. */
  private failures: FailedSubmission[] = [];

  constructor(readonly path: string) {
    this.tail = new LedgerTail(path);
  }

  /** The failed submissions the passes so far found (each once), with the name and argv of their intent. */
  takeFailures(): FailedSubmission[] {
    const f = this.failures;
    this.failures = [];
    return f;
  }

  /** The records of runs that got a (later) submitted attempt since the last call, in ledger order, with their line numbers. */
  async *records(): AsyncGenerator<{ record: Record<string, unknown>; line: number }> {
    const pass = await this.tail.next();
    if (!pass) return;
    try {
      if (pass.replaced) this.runs.clear();
      const latest = new Map<string, Latest>();
      // Intents not followed (yet) by their outcome: few at a time, as slurm-submit writes them in turn.
      const intents = new Map<string, { start: number; end: number }>();
      const failed: { entry: Extract<LedgerEntry, { t: "failed" }>; line: number; intent?: { start: number; end: number } }[] = [];
      for await (const { entry, line, start, end } of pass.entries()) {
        const attemptKey = `${entry.run_id}|${entry.attempt}`;
        if (entry.t === "intent") intents.set(attemptKey, { start, end });
        else if (entry.t === "failed") {
          const intent = intents.get(attemptKey);
          failed.push({ entry, line, ...(intent ? { intent } : {}) });
        }
        if (entry.t !== "intent") intents.delete(attemptKey);
        if ((entry.t !== "submitted" && entry.t !== "reconciled") || !entry.record) continue;
        const known = latest.get(entry.run_id) ?? this.runs.get(entry.run_id);
        if (known && !(entry.attempt >= known.attempt)) continue;
        const seq = known?.seq ?? this.runs.size + latest.size;
        latest.set(entry.run_id, { attempt: entry.attempt, seq, start, end, line });
      }
      for (const [run, l] of latest) this.runs.set(run, { attempt: l.attempt, seq: l.seq });
      for (const { entry, line, intent } of failed) {
        let name: string | undefined;
        let argv: string[] | undefined;
        if (intent) {
          const e = JSON.parse(await pass.text(intent.start, intent.end)) as { name?: unknown; argv?: unknown };
          if (typeof e.name === "string") name = e.name;
          if (Array.isArray(e.argv)) argv = e.argv.map(String);
        }
        const superseded = (this.runs.get(entry.run_id)?.attempt ?? 0) > entry.attempt;
        this.failures.push({ runId: entry.run_id, attempt: entry.attempt, at: entry.at, message: entry.message, line, superseded, ...(entry.code ? { code: entry.code } : {}), ...(name ? { name } : {}), ...(argv ? { argv } : {}) });
      }
      for (const l of [...latest.values()].sort((x, y) => x.seq - y.seq)) {
        const entry = JSON.parse(await pass.text(l.start, l.end)) as { record: Record<string, unknown> };
        yield { record: entry.record, line: l.line };
      }
    } finally {
      await pass.close();
    }
  }
}
