import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { once } from "node:events";
import { rm } from "node:fs/promises";
import { type ParamChange, type RunRecord, describeParamChanges, paramChanges } from "@slurmpipe/core";
import { parse } from "csv-parse";
import type { Problem } from "./collect.ts";
import { csvLine } from "./csv.ts";
import { type ColumnSpec, ParquetDatasetWriter, metricValue, paramColumnType, paramValue } from "./parquet.ts";

/**
 * Where one run's (or one attempt's) metric series come from: its metrics.csv files (full
 * resolution), else log-parse's `report.series` of the attempt's record.
 */
export interface MetricsSource {
  /** The run's record: run_id, name, variant (and params, series when there is no `attempt`). */
  record: RunRecord;
  csvFiles: string[];
  /** The rows are this attempt's: its number, and its record for the params it ran with and its series. */
  attempt?: { attempt: number; record: RunRecord };
}

interface Cell {
  value: number | null;
  raw: string;
}

const FIXED = ["run_id", "name", "variant"];
/** Added when the input knows attempts / the sweep's params (columns are only ever added, never renamed). */
const ATTEMPT = "attempt";
const CHANGED = ["params_changed", "param_changes"];
const STATE = "state";

/** The params an attempt ran with and how they differ from the sweep's (undefined: no sweep_params to compare). */
function ranWith(s: MetricsSource): { params: Record<string, unknown> | undefined; changes: ParamChange[] | undefined } {
  const own = s.attempt?.record;
  const params = own?.params ?? s.record.params;
  const sweep = own?.sweep_params ?? s.record.sweep_params;
  return { params, changes: sweep ? paramChanges({ params, sweep_params: sweep }) : undefined };
}

/** Nested params flattened to dotted keys: {optim: {lr: 0.1}} -> {"optim.lr": 0.1}. */
export function flattenParams(params: Record<string, unknown> | undefined, prefix = "", out: Record<string, unknown> = {}): Record<string, unknown> {
  for (const [k, v] of Object.entries(params ?? {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === "object" && !Array.isArray(v)) flattenParams(v as Record<string, unknown>, key, out);
    else out[key] = v;
  }
  return out;
}

function cell(raw: string): Cell | undefined {
  const t = raw.trim();
  if (t === "") return undefined;
  const n = Number(t);
  if (t !== "" && Number.isFinite(n)) return { value: n, raw: t };
  return { value: null, raw: t }; // nan, inf, -inf, or text
}

async function csvHeader(path: string): Promise<string[]> {
  const file = createReadStream(path);
  const parser = file.pipe(parse({ bom: true, to_line: 1, relax_column_count: true }));
  try {
    for await (const row of parser as AsyncIterable<string[]>) return row.map((c) => c.trim());
    return [];
  } finally {
    // Leaving the loop destroys the parser, not the file it is piped from: without this, every
    // header read kept its file open (a sweep of a few thousand runs ran out of descriptors).
    file.destroy();
  }
}

/** One run's rows keyed by step; sparse Lightning rows with the same step are merged (later values win). */
async function runRows(source: MetricsSource): Promise<Map<number, Map<string, Cell>>> {
  const rows = new Map<number, Map<string, Cell>>();
  const put = (step: number, metric: string, c: Cell) => {
    let row = rows.get(step);
    if (!row) rows.set(step, (row = new Map()));
    row.set(metric, c);
  };
  if (source.csvFiles.length > 0) {
    for (const file of source.csvFiles) {
      const parser = createReadStream(file).pipe(parse({ bom: true, columns: (h: string[]) => h.map((c) => c.trim()), relax_column_count: true, skip_empty_lines: true }));
      let index = 0;
      for await (const rec of parser as AsyncIterable<Record<string, string>>) {
        const stepCell = cell(rec.step ?? "");
        const step = stepCell?.value ?? index;
        index += 1;
        for (const [k, v] of Object.entries(rec)) {
          if (k === "step" || k === "") continue;
          const c = cell(v ?? "");
          if (c) put(step, k, c);
        }
      }
    }
  } else {
    for (const [metric, points] of Object.entries(seriesOf(source))) {
      for (const p of points) put(p.step, metric, { value: p.value, raw: p.raw ?? (p.value === null ? "nan" : String(p.value)) });
    }
  }
  return rows;
}

const seriesOf = (s: MetricsSource) => (s.attempt ? s.attempt.record : s.record).report?.series ?? {};

/** Whether a source has anything for the dataset. */
export const hasMetrics = (s: MetricsSource): boolean => s.csvFiles.length > 0 || Object.keys(seriesOf(s)).length > 0;

export interface DatasetResult {
  rows: number;
  runs: number;
  metrics: string[];
  params: string[];
  problems: Problem[];
  /** Whether metrics.parquet was written (asked for, and every step an integer). */
  parquet: boolean;
}

/** Where the dataset goes: any of the three forms (the bench writes the Parquet file alone). */
export interface DatasetPaths {
  ndjson?: string;
  csv?: string;
  parquet?: string;
}

/** The Slurm state of the attempt the rows are from (the run's, without attempts). */
const stateOf = (s: MetricsSource): string | undefined => (s.attempt ? s.attempt.record : s.record).state?.state;

/**
 * Writes the consolidated dataset in the wide form (one row per run and step, one column per
 * metric, the run's hyperparameters as columns) to the NDJSON, CSV and Parquet files asked for.
 * Two passes: the first reads only CSV headers, series names and the records' params to fix the
 * columns and their types, the second holds one run's rows at a time (and the Parquet writer one
 * bounded row group). With attempts known, the rows are one per run, attempt and step, with the
 * `attempt` column and the params that attempt ran with; with the sweep's params known,
 * `params_changed` and `param_changes` say where they differ (core's paramChanges); with any
 * record's Slurm state known, `state` is the attempt's state.
 */
export async function writeDataset(sources: MetricsSource[], paths: DatasetPaths): Promise<DatasetResult> {
  const metricSet = new Set<string>();
  const paramValues = new Map<string, unknown[]>();
  let withAttempt = false;
  let withChanges = false;
  let withState = false;
  for (const s of sources) {
    const ran = ranWith(s);
    for (const [k, v] of Object.entries(flattenParams(ran.params))) {
      const seen = paramValues.get(k) ?? [];
      // Enough to type the column: one value of each JS type (a number column: every distinct kind).
      if (!seen.some((x) => typeof x === typeof v && (typeof v !== "number" || Number.isSafeInteger(x) === Number.isSafeInteger(v)))) seen.push(v);
      paramValues.set(k, seen);
    }
    if (s.attempt) withAttempt = true;
    if (ran.changes) withChanges = true;
    if (stateOf(s) !== undefined) withState = true;
    if (s.csvFiles.length > 0) {
      for (const f of s.csvFiles) for (const h of await csvHeader(f)) if (h !== "step" && h !== "") metricSet.add(h);
    } else {
      for (const k of Object.keys(seriesOf(s))) metricSet.add(k);
    }
  }
  const metrics = [...metricSet].sort();
  const params = [...paramValues.keys()].sort();
  const head = [...FIXED, ...(withAttempt ? [ATTEMPT] : []), ...(withState ? [STATE] : [])];
  const flags = withChanges ? CHANGED : [];
  // A hyperparameter named like a fixed or metric column (e.g. both a param and a metric "lr") gets a "param." prefix.
  const taken = new Set([...head, ...flags, "step", ...metrics]);
  const paramColumns = params.map((p) => (taken.has(p) ? `param.${p}` : p));
  const paramTypes = params.map((p) => paramColumnType(paramValues.get(p)!));
  const specs: ColumnSpec[] = [
    { name: "run_id", type: "STRING" },
    { name: "name", type: "STRING" },
    { name: "variant", type: "STRING" },
    ...(withAttempt ? [{ name: ATTEMPT, type: "INT64" as const }] : []),
    ...(withState ? [{ name: STATE, type: "STRING" as const }] : []),
    ...paramColumns.map((name, i) => ({ name, type: paramTypes[i]! })),
    ...(withChanges ? [{ name: "params_changed", type: "BOOLEAN" as const }, { name: "param_changes", type: "STRING" as const }] : []),
    { name: "step", type: "INT64" },
    ...metrics.map((name) => ({ name, type: "DOUBLE" as const })),
  ];

  const nd = paths.ndjson ? createWriteStream(paths.ndjson, { flags: "wx" }) : undefined;
  const csv = paths.csv ? createWriteStream(paths.csv, { flags: "wx" }) : undefined;
  let pq: ParquetDatasetWriter | undefined;
  const problems: Problem[] = [];
  let total = 0;
  const runIds = new Set<string>();
  let done = false;
  let parquet = false;
  try {
    if (paths.parquet) pq = await ParquetDatasetWriter.create(paths.parquet, specs, { "slurmpipe.dataset": "wide: one row per run, attempt and step" });
    if (csv) await put(csv, csvLine(specs.map((c) => c.name)));
    for (const s of sources) {
      const r = s.record;
      const ran = ranWith(s);
      const flat = flattenParams(ran.params);
      const state = stateOf(s);
      const rows = await runRows(s);
      if (rows.size > 0) runIds.add(r.id);
      const attempt = s.attempt ? { attempt: s.attempt.attempt, ...(s.attempt.record.job?.id ? { job_id: s.attempt.record.job.id } : {}) } : {};
      const changed = ran.changes ? { params_changed: ran.changes.length > 0, param_changes: ran.changes } : {};
      const leading = [r.id, r.name, r.variant ?? "", ...(withAttempt ? [s.attempt?.attempt] : []), ...(withState ? [state] : [])];
      const trailing = withChanges ? (ran.changes ? [ran.changes.length > 0, describeParamChanges(ran.changes)] : ["", ""]) : [];
      const typedLeading: (string | number | boolean | null)[] = [r.id, r.name, r.variant ?? null, ...(withAttempt ? [s.attempt?.attempt ?? null] : []), ...(withState ? [state ?? null] : [])];
      const typedParams = params.map((p, i) => paramValue(paramTypes[i]!, flat[p]));
      // No change is null in the Parquet file, as the CSV's empty field reads (pandas, DuckDB).
      const typedTrailing = withChanges ? (ran.changes ? [ran.changes.length > 0, describeParamChanges(ran.changes) || null] : [null, null]) : [];
      const prepared = pq?.prepare([...typedLeading, ...typedParams, ...typedTrailing]) ?? [];
      const tail: (number | null)[] = new Array(metrics.length + 1);
      const firstBad = new Map<string, { step: number; raw: string }>();
      for (const step of [...rows.keys()].sort((a, b) => a - b)) {
        const row = rows.get(step)!;
        const values: Record<string, number | null> = {};
        const nonfinite: Record<string, string> = {};
        for (const [k, c] of row) {
          values[k] = c.value;
          if (c.value === null) {
            nonfinite[k] = c.raw;
            if (!firstBad.has(k)) firstBad.set(k, { step, raw: c.raw });
          }
        }
        if (nd) {
          const rec: Record<string, unknown> = { run_id: r.id, name: r.name, variant: r.variant ?? null, ...attempt, ...(withState ? { state: state ?? null } : {}), params: ran.params ?? {}, ...changed, step, metrics: values };
          if (Object.keys(nonfinite).length > 0) rec.nonfinite = nonfinite;
          await put(nd, `${JSON.stringify(rec)}\n`);
        }
        if (csv) await put(csv, csvLine([...leading, ...params.map((p) => flat[p]), ...trailing, step, ...metrics.map((m) => row.get(m)?.raw ?? "")]));
        if (pq) {
          if (!Number.isSafeInteger(step)) {
            // Steps are int64 in the Parquet schema, fixed before the rows are read: drop that file, keep the others.
            await pq.abort();
            await rm(paths.parquet!, { force: true });
            pq = undefined;
            problems.push({ run_id: r.id, name: r.name, problem: "parquet_skipped", severity: "warning", message: `${r.name}: step ${step} is not an integer; metrics.parquet (int64 steps) is not written, metrics.csv and metrics.ndjson are` });
          }
        }
        if (pq) {
          tail[0] = step;
          for (let m = 0; m < metrics.length; m++) {
            const c = row.get(metrics[m]!);
            tail[m + 1] = c ? metricValue(c.value, c.raw) : null;
          }
          const full = pq.add(prepared, tail);
          if (full) await full;
        }
        total += 1;
      }
      for (const [metric, bad] of firstBad) {
        problems.push({
          run_id: r.id,
          name: r.name,
          ...(s.attempt ? { attempt: s.attempt.attempt } : {}),
          problem: /^[-+]?(nan|inf|infinity)(\.0)?$/i.test(bad.raw) ? "nonfinite_metric" : "non_numeric_metric",
          severity: "warning",
          message: `${r.name}: ${metric} is ${bad.raw} at step ${bad.step}${s.attempt ? ` of attempt ${s.attempt.attempt}` : ""}`,
        });
      }
    }
    await pq?.close();
    parquet = pq !== undefined;
    done = true;
  } finally {
    if (!done) await pq?.abort();
    nd?.end();
    csv?.end();
    await Promise.all([nd ? once(nd, "close") : undefined, csv ? once(csv, "close") : undefined]);
  }
  return { rows: total, runs: runIds.size, metrics, params: paramColumns, problems, parquet };
}

async function put(stream: WriteStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, "drain");
}
