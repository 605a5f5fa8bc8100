import type { ZodError } from "zod";
import { type ErrorCounter, InputError, JobEvent, type LineError, RunRecord, StringPool, readNdjsonInputs, zodField } from "@slurmpipe/core";
import { type EventState, type FieldOptions, pickEventState, pickReportFields } from "./fields.ts";

/** Everything summary-md learned from its inputs, merged per run id. */
export interface Collected {
  /** Last-wins merge per run id, in order of first appearance. */
  runs: Map<string, RunRecord>;
  /**
   * The newest state-change event per job id (by its time `at`, whatever order the inputs came in;
   * of two at the same time the later one read): what slurm-poll last saw of the job, which is
   * newer than a run record's state while the job runs (see live-state.ts).
   */
  events: Map<string, EventState>;
}

export interface ReadInputsOptions {
  stdin?: AsyncIterable<Buffer | string>;
  strict?: boolean;
  errors: ErrorCounter | { report: (e: LineError) => void };
  /** Keep only the fields the status report reads (see fields.ts); whole records when absent. */
  fields?: FieldOptions;
}

/**
 * Reads run records and `{"kind":"event"}` records from NDJSON inputs. Other kinds
 * (archive entries, ...) are skipped: a status report has nothing to say about them.
 * A bad line is reported with source:line (and field) and the rest is still read.
 */
export async function collectInputs(paths: readonly string[], options: ReadInputsOptions): Promise<Collected> {
  const runs = new Map<string, RunRecord>();
  const events = new Map<string, EventState>();
  const report = options.errors.report;
  const strings = new StringPool();
  const fields = options.fields;
  const keep = fields ? (r: RunRecord) => pickReportFields(r, fields, strings) : (r: RunRecord) => r;
  const items = readNdjsonInputs<Record<string, unknown>>(paths, {
    onError: report,
    ...(options.strict ? { strict: true } : {}),
    ...(options.stdin ? { stdin: options.stdin } : {}),
  });
  for await (const item of items) {
    const raw = item.value;
    const bad = (error: ZodError) => {
      const detail: LineError = { source: item.source, line: item.line, ...zodField(error) };
      if (options.strict) throw new InputError(detail);
      report(detail);
    };
    if (raw.kind === "event") {
      const parsed = JobEvent.safeParse(raw);
      if (!parsed.success) {
        bad(parsed.error);
        continue;
      }
      const known = events.get(parsed.data.job_id);
      if (!known || !(Date.parse(parsed.data.at) < Date.parse(known.at))) events.set(parsed.data.job_id, pickEventState(parsed.data, strings));
      continue;
    }
    if (raw.kind !== undefined && raw.kind !== "run") continue;
    const parsed = RunRecord.safeParse(raw);
    if (!parsed.success) {
      bad(parsed.error);
      continue;
    }
    const prev = runs.get(parsed.data.id);
    runs.set(parsed.data.id, keep(prev ? mergeRun(prev, parsed.data) : parsed.data));
  }
  return { runs, events };
}

/** Reads the expected runs (sweep-gen output) in file order; duplicates keep the last. */
export async function readExpected(path: string, options: ReadInputsOptions): Promise<Map<string, RunRecord>> {
  const expected = new Map<string, RunRecord>();
  const strings = new StringPool();
  const fields = options.fields;
  const items = readNdjsonInputs<RunRecord>([path], {
    schema: RunRecord,
    onError: options.errors.report,
    ...(options.strict ? { strict: true } : {}),
  });
  for await (const item of items) expected.set(item.value.id, fields ? pickReportFields(item.value, fields, strings) : item.value);
  return expected;
}

const NESTED = ["job", "state", "report", "params", "resources", "logs", "script"] as const;

/**
 * Merges a later record for the same run into the earlier one: later fields win, nested objects
 * (job, state, report, ...) are merged key by key so a partial update keeps what it does not
 * mention. A new job id (a resubmission) makes the old job's state, report and error stale.
 */
export function mergeRun(earlier: RunRecord, later: RunRecord): RunRecord {
  const base: Record<string, unknown> = { ...earlier };
  const resubmitted = later.job && (!earlier.job || later.job.id !== earlier.job.id);
  if (resubmitted) {
    delete base.state;
    delete base.report;
    delete base.error;
    delete base.job;
  }
  const merged: Record<string, unknown> = { ...base, ...later };
  for (const key of NESTED) {
    const a = base[key];
    const b = (later as Record<string, unknown>)[key];
    if (isPlainObject(a) && isPlainObject(b)) merged[key] = { ...a, ...b };
  }
  return merged as RunRecord;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
