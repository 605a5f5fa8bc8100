import { Ledger, type LedgerEntry, RunRecord, zodField } from "@slurmpipe/core";
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
