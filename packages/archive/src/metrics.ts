import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { once } from "node:events";
import { type ParamChange, type RunRecord, describeParamChanges, paramChanges } from "@slurmpipe/core";
import { parse } from "csv-parse";
import type { Problem } from "./collect.ts";
import { csvLine } from "./csv.ts";

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
  const parser = createReadStream(path).pipe(parse({ bom: true, to_line: 1, relax_column_count: true }));
  for await (const row of parser as AsyncIterable<string[]>) return row.map((c) => c.trim());
  return [];
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
}

/**
 * Writes the consolidated dataset in the wide form (one row per run and step, one column per
 * metric, the run's hyperparameters as columns) to `ndjsonPath` and `csvPath`. Two passes: the
 * first reads only CSV headers and series names to fix the columns, the second holds one run's
 * rows at a time. With attempts known, the rows are one per run, attempt and step, with the
 * `attempt` column and the params that attempt ran with; with the sweep's params known,
 * `params_changed` and `param_changes` say where they differ (core's paramChanges).
 */
export async function writeDataset(sources: MetricsSource[], ndjsonPath: string, csvPath: string): Promise<DatasetResult> {
  const metricSet = new Set<string>();
  const paramSet = new Set<string>();
  let withAttempt = false;
  let withChanges = false;
  for (const s of sources) {
    const ran = ranWith(s);
    for (const k of Object.keys(flattenParams(ran.params))) paramSet.add(k);
    if (s.attempt) withAttempt = true;
    if (ran.changes) withChanges = true;
    if (s.csvFiles.length > 0) {
      for (const f of s.csvFiles) for (const h of await csvHeader(f)) if (h !== "step" && h !== "") metricSet.add(h);
    } else {
      for (const k of Object.keys(seriesOf(s))) metricSet.add(k);
    }
  }
  const metrics = [...metricSet].sort();
  const params = [...paramSet].sort();
  const head = withAttempt ? [...FIXED, ATTEMPT] : FIXED;
  const flags = withChanges ? CHANGED : [];
  // A hyperparameter named like a fixed or metric column (e.g. both a param and a metric "lr") gets a "param." prefix.
  const taken = new Set([...head, ...flags, "step", ...metrics]);
  const paramColumns = params.map((p) => (taken.has(p) ? `param.${p}` : p));

  const nd = createWriteStream(ndjsonPath, { flags: "wx" });
  const csv = createWriteStream(csvPath, { flags: "wx" });
  const problems: Problem[] = [];
  let total = 0;
  const runIds = new Set<string>();
  try {
    await put(csv, csvLine([...head, ...paramColumns, ...flags, "step", ...metrics]));
    for (const s of sources) {
      const r = s.record;
      const ran = ranWith(s);
      const flat = flattenParams(ran.params);
      const rows = await runRows(s);
      if (rows.size > 0) runIds.add(r.id);
      const attempt = s.attempt ? { attempt: s.attempt.attempt, ...(s.attempt.record.job?.id ? { job_id: s.attempt.record.job.id } : {}) } : {};
      const changed = ran.changes ? { params_changed: ran.changes.length > 0, param_changes: ran.changes } : {};
      const leading = [r.id, r.name, r.variant ?? "", ...(withAttempt ? [s.attempt?.attempt] : [])];
      const trailing = withChanges ? (ran.changes ? [ran.changes.length > 0, describeParamChanges(ran.changes)] : ["", ""]) : [];
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
        const rec: Record<string, unknown> = { run_id: r.id, name: r.name, variant: r.variant ?? null, ...attempt, params: ran.params ?? {}, ...changed, step, metrics: values };
        if (Object.keys(nonfinite).length > 0) rec.nonfinite = nonfinite;
        await put(nd, `${JSON.stringify(rec)}\n`);
        await put(csv, csvLine([...leading, ...params.map((p) => flat[p]), ...trailing, step, ...metrics.map((m) => row.get(m)?.raw ?? "")]));
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
  } finally {
    nd.end();
    csv.end();
    await Promise.all([once(nd, "close"), once(csv, "close")]);
  }
  return { rows: total, runs: runIds.size, metrics, params: paramColumns, problems };
}

async function put(stream: WriteStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, "drain");
}
