import { type JobEvent, type ParamChange, type RunRecord, type StringPool, canonicalJson, paramChanges } from "@slurmpipe/core";

/**
 * What the status report and `--update` read of a run record; the README's "Fields read" lists
 * the same. summary-md holds every run until the report is written, and at 100,000 runs the whole
 * records (script, logs, argv, dir, command, ...) were most of its memory. `--sample` keeps whole
 * records: it shows the command, resources, files and metric series of its one run.
 */
export interface FieldOptions {
  /** Keep `report.series.loss` for the SVG plots. */
  plots: boolean;
}

const JOB = ["id", "cluster", "attempt", "backend"];
const STATE = [
  "state",
  "category",
  "terminal",
  "reason",
  "exit_code",
  "started_at",
  "ended_at",
  "elapsed_s",
  "time_limit_s",
  "max_rss_bytes",
  "req_mem_bytes",
  "restarts",
  "node_list",
  "early_failure",
  "flag",
  "confirmed_at",
  "blocked_by",
];
const REPORT = ["loss", "failures", "flags"];
/** Values a sweep repeats from run to run; times and numbers are left alone. */
const REPEATED = new Set(["cluster", "backend", "state", "category", "reason", "exit_code", "node_list", "flag", "confirmed_at"]);

const NO_CHANGES: ParamChange[] = Object.freeze([]) as unknown as ParamChange[];

/** The parameters a run ran with that differ from the sweep's (core's paramChanges); one shared empty list for the rest. */
export function paramChangesOf(record: RunRecord | undefined): ParamChange[] {
  if (!record?.sweep_params) return NO_CHANGES;
  const changes = paramChanges(record);
  return changes.length ? changes : NO_CHANGES;
}

/**
 * The fields of `record` the report reads. Picking top-level fields and the keys of job, state and
 * report commutes with mergeRun (which merges those objects key by key), so a run merged from picked
 * records is the picked merge of the whole ones.
 */
export function pickReportFields(record: RunRecord, options: FieldOptions, strings: StringPool): RunRecord {
  const r = record as Record<string, unknown>;
  const out: Record<string, unknown> = { id: record.id, name: record.name };
  for (const key of ["group", "variant"]) if (key in r) out[key] = strings.value(r[key]);
  if ("control" in r) out.control = r.control;
  if ("error" in r) out.error = r.error;
  // params are kept for --color-by and, with sweep_params, to tell which runs ran with other values (whenever
  // present, so picked records merge as whole ones do); a run that ran as generated holds one object for both.
  if ("params" in r) out.params = r.params;
  if (record.sweep_params) out.sweep_params = canonicalJson(record.sweep_params) === canonicalJson(record.params ?? {}) ? (record.params ?? record.sweep_params) : record.sweep_params;
  if (record.job) out.job = pick(record.job, JOB, strings);
  const renderedWith = record.script?.rendered_with;
  if (renderedWith) out.script = renderedWithScript(strings, renderedWith);
  if (record.state) out.state = pick(record.state, STATE, strings);
  if (record.report) {
    const report = pick(record.report, REPORT, strings);
    const loss = record.report.series?.loss;
    if (options.plots && loss) report.series = { loss };
    out.report = report;
  }
  return out as RunRecord;
}

/** The fields of a poll event that give a job its state and its start and end time (see live-state.ts). */
export type EventState = Pick<JobEvent, "at" | "to" | "run_id" | "category" | "started_at" | "ended_at" | "reason" | "exit_code" | "blocked_by">;

export function pickEventState(event: JobEvent, strings: StringPool): EventState {
  // One literal with every field: V8 then stores them inside the object, no extra property array.
  return {
    at: strings.value(event.at),
    to: strings.value(event.to),
    run_id: event.run_id,
    category: event.category,
    started_at: event.started_at,
    ended_at: event.ended_at,
    reason: strings.value(event.reason),
    exit_code: strings.value(event.exit_code),
    blocked_by: event.blocked_by,
  };
}

/** Every run rendered the same way shares one `script: {rendered_with}` object (a sweep has one or a few); nothing changes it. */
const renderedWithPools = new WeakMap<StringPool, Map<string, { rendered_with: unknown }>>();
function renderedWithScript(strings: StringPool, value: object): { rendered_with: unknown } {
  let pool = renderedWithPools.get(strings);
  if (!pool) renderedWithPools.set(strings, (pool = new Map()));
  const key = JSON.stringify(value);
  let known = pool.get(key);
  if (!known) pool.set(key, (known = Object.freeze({ rendered_with: value })));
  return known;
}

function pick(from: object, keys: readonly string[], strings: StringPool): Record<string, unknown> {
  const src = from as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of keys) if (key in src) out[key] = REPEATED.has(key) ? strings.value(src[key]) : src[key];
  return out;
}
