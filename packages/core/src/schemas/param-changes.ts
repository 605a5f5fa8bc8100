import { canonicalJson } from "../hash.ts";

/** One parameter an attempt ran with that differs from what the sweep generated. */
export interface ParamChange {
  key: string;
  /** The sweep's value; undefined when the sweep did not have this parameter. */
  sweep: unknown;
  /** The value the attempt ran with; undefined when the parameter was removed. */
  ran: unknown;
}

/**
 * Which parameters of a record differ from its `sweep_params` (the values sweep-gen generated),
 * in key order. Empty when they agree or when the record has no `sweep_params` (records made by
 * hand or by older versions: nothing to compare against). summary-md and archive both report this.
 */
export function paramChanges(record: { params?: Record<string, unknown> | undefined; sweep_params?: Record<string, unknown> | undefined }): ParamChange[] {
  const sweep = record.sweep_params;
  if (!sweep || typeof sweep !== "object") return [];
  const ran = record.params ?? {};
  const keys = [...new Set([...Object.keys(sweep), ...Object.keys(ran)])].sort();
  const out: ParamChange[] = [];
  for (const key of keys) {
    if (canonicalJson(sweep[key]) !== canonicalJson(ran[key])) out.push({ key, sweep: sweep[key], ran: ran[key] });
  }
  return out;
}

/** `lr=0.1 (sweep: 0.2)`, one change per item, joined with ", ". */
export function describeParamChanges(changes: readonly ParamChange[]): string {
  const show = (v: unknown) => (v === undefined ? "unset" : typeof v === "string" ? v : JSON.stringify(v));
  return changes.map((c) => `${c.key}=${show(c.ran)} (sweep: ${show(c.sweep)})`).join(", ");
}
