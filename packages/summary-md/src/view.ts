import type { Failure, RunRecord } from "@slurmpipe/core";
import { naturalCompare, oneLine } from "./format.ts";
import { type Collected, timesFromEvents } from "./records.ts";
import { type Status, deriveStatus } from "./status.ts";

/** One row of the report: what is known about one run, whatever stage it reached. */
export interface RunView {
  id: string;
  name: string;
  /** group, else variant, else "" (ungrouped). */
  group: string;
  /** The merged record; absent for MISSING runs. */
  record?: RunRecord;
  /** The run spec from --expected, when given. */
  expected?: RunRecord;
  status: Status;
  /** The exact Slurm state when the status folds it (COMPLETING, REQUEUED, DEADLINE, ...). */
  slurmState?: string;
  jobId?: string;
  started?: string;
  ended?: string;
  elapsedS?: number;
  trend?: string;
  failures: Failure[];
  notes: string[];
}

export interface Grouped {
  name: string;
  runs: RunView[];
}

/**
 * Joins records with the expected runs. Order is deterministic whatever order records arrived in:
 * expected runs in sweep-gen order, then runs that were not expected, by name.
 */
export function buildViews(collected: Collected, expected: Map<string, RunRecord> | undefined, nowMs: number): RunView[] {
  const views: RunView[] = [];
  const seen = new Set<string>();
  const share = notesSharer();
  for (const [id, spec] of expected ?? []) {
    seen.add(id);
    const record = collected.runs.get(id);
    views.push(record ? viewOf(record, spec, collected, nowMs, share) : missingView(spec, share));
  }
  const extra = [...collected.runs.values()].filter((r) => !seen.has(r.id));
  extra.sort((a, b) => naturalCompare(a.name, b.name) || naturalCompare(a.id, b.id));
  for (const record of extra) views.push(viewOf(record, undefined, collected, nowMs, share));
  return views;
}

type Share = (notes: string[]) => string[];

// Shared by every view without failures or notes; frozen, as views never change them.
const NONE: Failure[] & string[] = Object.freeze([]) as unknown as Failure[] & string[];

/**
 * Views with the same notes share one (frozen) array: in a large sweep most runs say the same
 * ("reason JobHeldUser" for 100,000 held tasks), and each array with its spare capacity was
 * most of a view's memory.
 */
function notesSharer(): Share {
  const known = new Map<string, string[]>();
  return (notes) => {
    if (notes.length === 0) return NONE;
    const key = JSON.stringify(notes);
    let shared = known.get(key);
    if (!shared) {
      shared = Object.freeze(notes.slice()) as string[];
      known.set(key, shared);
    }
    return shared;
  };
}

export function groupViews(views: readonly RunView[]): Grouped[] {
  const groups = new Map<string, RunView[]>();
  for (const v of views) {
    const list = groups.get(v.group) ?? [];
    list.push(v);
    groups.set(v.group, list);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a === "" ? 1 : b === "" ? -1 : naturalCompare(a, b)))
    .map(([name, runs]) => ({ name, runs }));
}

function groupOf(...records: (RunRecord | undefined)[]): string {
  for (const r of records) {
    const g = r?.group ?? r?.variant;
    if (typeof g === "string" && g !== "") return g;
  }
  return "";
}

function missingView(spec: RunRecord, share: Share): RunView {
  return {
    id: spec.id,
    name: spec.name,
    group: groupOf(spec),
    expected: spec,
    status: "MISSING",
    failures: NONE,
    notes: share(["expected, no record"]),
  };
}

function viewOf(record: RunRecord, spec: RunRecord | undefined, collected: Collected, nowMs: number, share: Share): RunView {
  const { status, slurmState } = deriveStatus(record);
  const state = record.state;
  const fromEvents = record.job ? timesFromEvents(collected.events.get(record.job.id), record.id) : {};
  const started = state?.started_at ?? fromEvents.started;
  // An end time only means something once the job is over.
  const ended = state?.terminal === false ? undefined : (state?.ended_at ?? (state?.terminal ? fromEvents.ended : undefined));
  let elapsedS = state?.elapsed_s;
  if (elapsedS === undefined && started) {
    const end = ended ? Date.parse(ended) : status === "RUNNING" ? nowMs : Number.NaN;
    const s = (end - Date.parse(started)) / 1000;
    if (Number.isFinite(s) && s >= 0) elapsedS = Math.round(s);
  }
  const failures = record.report?.failures ?? NONE;
  const view: RunView = {
    id: record.id,
    name: record.name,
    group: groupOf(record, spec),
    record,
    status,
    failures,
    notes: NONE,
  };
  if (spec) view.expected = spec;
  if (slurmState) view.slurmState = slurmState;
  if (record.job?.id) view.jobId = record.job.id;
  if (started) view.started = started;
  if (ended) view.ended = ended;
  if (elapsedS !== undefined) view.elapsedS = elapsedS;
  const trend = record.report?.loss?.trend;
  if (trend) view.trend = trend;
  view.notes = share(notesFor(view, record));
  return view;
}

/** Short facts a person scanning the table needs; the failures section has the detail. */
function notesFor(view: RunView, record: RunRecord): string[] {
  const notes: string[] = [];
  const state = record.state;
  if (view.slurmState) notes.push(view.slurmState);
  if (record.error) notes.push(`${record.error.stage}: ${oneLine(record.error.message, 120)}`);
  if (state?.reason && !/^none$/i.test(state.reason) && view.status !== "COMPLETED") notes.push(`reason ${state.reason}`);
  if (state?.exit_code && state.exit_code !== "0:0") notes.push(`exit ${state.exit_code}`);
  if (state?.restarts) notes.push(`restarts ${state.restarts}`);
  if (record.job?.attempt && record.job.attempt > 1) notes.push(`attempt ${record.job.attempt}`);
  // A time limit or OOM is its own explanation; "early" only hints at the environment for plain failures.
  if (state?.early_failure && view.status === "FAILED")
    notes.push(`failed early${state.early_failure.elapsed_s !== undefined ? ` (${state.early_failure.elapsed_s} s)` : ""}${view.failures.length ? "" : ": environment or path?"}`);
  if (state?.flag) notes.push(state.flag);
  const first = view.failures[0];
  if (first) notes.push(`${first.class}: ${oneLine(first.message, 100)}`);
  if (view.failures.length > 1) notes.push(`+${view.failures.length - 1} more`);
  const nonfinite = record.report?.loss?.first_nonfinite;
  if (nonfinite && !view.failures.some((f) => f.class === "NAN_LOSS"))
    notes.push(`loss ${nonfinite.raw}${nonfinite.step !== undefined ? ` at step ${nonfinite.step}` : ""}`);
  for (const f of record.report?.flags ?? []) notes.push(f.flag);
  return notes;
}
