import type { JobEvent, RunRecord, StringPool } from "@slurmpipe/core";

/**
 * What the status report and `--update` read of a run record; the README's "Fields read" lists
 * the same. summary-md holds every run until the report is written, and at 100,000 runs the whole
 * records (script, logs, argv, dir, command, ...) were most of its memory. `--sample` keeps whole
 * records: it shows the command, resources, files and metric series of its one run.
 */
export interface FieldOptions {
  /** Keep `report.series.loss` for the SVG plots. */
  plots: boolean;
  /** Keep `params` for `--color-by`. */
  params: boolean;
}

const JOB = ["id", "cluster", "attempt"];
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
];
const REPORT = ["loss", "failures", "flags"];
/** Values a sweep repeats from run to run; times and numbers are left alone. */
const REPEATED = new Set(["cluster", "state", "category", "reason", "exit_code", "node_list", "flag"]);

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
  if (options.params && "params" in r) out.params = r.params;
  if (record.job) out.job = pick(record.job, JOB, strings);
  if (record.state) out.state = pick(record.state, STATE, strings);
  if (record.report) {
    const report = pick(record.report, REPORT, strings);
    const loss = record.report.series?.loss;
    if (options.plots && loss) report.series = { loss };
    out.report = report;
  }
  return out as RunRecord;
}

/** The fields of a poll event that give a job its start and end time (see timesFromEvents). */
export type EventTimes = Pick<JobEvent, "at" | "to" | "run_id">;

export function pickEventTimes(event: JobEvent, strings: StringPool): EventTimes {
  // One literal with all three fields: V8 then stores them inside the object, no extra property array.
  return { at: strings.value(event.at), to: strings.value(event.to), run_id: event.run_id };
}

function pick(from: object, keys: readonly string[], strings: StringPool): Record<string, unknown> {
  const src = from as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of keys) if (key in src) out[key] = REPEATED.has(key) ? strings.value(src[key]) : src[key];
  return out;
}
