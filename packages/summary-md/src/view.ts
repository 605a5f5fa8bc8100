import { type Failure, type ParamChange, type RunRecord, describeParamChanges } from "@slurmpipe/core";
import { paramChangesOf } from "./fields.ts";
import { naturalCompare, oneLine } from "./format.ts";
import { withCurrentState } from "./live-state.ts";
import type { Collected } from "./records.ts";
import { type Status, deriveStatus } from "./status.ts";

/** One row of the report: what is known about one run, whatever stage it reached. */
export interface RunView {
  id: string;
  name: string;
  /** group, else variant, else "" (ungrouped). */
  group: string;
  /** The merged record, with the newest state of record and poll events (live-state.ts); absent for MISSING runs. */
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
  /** BLOCKED: the upstream jobs whose failure blocks this one, with their status when the input has them. */
  blockedBy?: { jobId: string; status?: Status; name?: string }[];
  /** Parameters this attempt ran with that differ from the sweep's (core's paramChanges). */
  paramChanges: ParamChange[];
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
  // A blocked run names its upstream jobs with their status: known once every view is made.
  const blocked = views.filter((v) => v.status === "BLOCKED");
  if (blocked.length) {
    const byJob = new Map(views.filter((v) => v.jobId).map((v) => [v.jobId!, v]));
    for (const v of blocked) {
      v.blockedBy = (v.record?.state?.blocked_by ?? []).map((jobId) => {
        const up = byJob.get(jobId);
        return { jobId, ...(up ? { status: up.status, name: up.name } : {}) };
      });
      v.notes = share(notesFor(v, v.record!));
    }
  }
  return views;
}

/** "1234 (FAILED)", "1234 (FAILED), 1240": the upstream jobs of a blocked run. */
export function describeBlockers(view: RunView): string {
  const list = view.blockedBy ?? [];
  return list.length ? list.map((b) => `${b.jobId}${b.status ? ` (${b.status})` : ""}`).join(", ") : "a failed dependency";
}

type Share = (notes: string[]) => string[];

// Shared by every view without failures or notes; frozen, as views never change them.
const NONE: Failure[] & string[] = Object.freeze([]) as unknown as Failure[] & string[];
const NONE_CHANGES: ParamChange[] = Object.freeze([]) as unknown as ParamChange[];

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
    paramChanges: NONE_CHANGES,
  };
}

function viewOf(merged: RunRecord, spec: RunRecord | undefined, collected: Collected, nowMs: number, share: Share): RunView {
  const record = merged.job ? withCurrentState(merged, collected.events.get(merged.job.id)) : merged;
  const { status, slurmState } = deriveStatus(record);
  const state = record.state;
  // Slurm's start and end times only: when they are not known the cell stays empty (the time a
  // poll noticed the change is not when the job started).
  const started = state?.started_at;
  // An end time only means something once the job is over.
  const ended = state?.terminal ? state.ended_at : undefined;
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
    paramChanges: paramChangesOf(record),
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
  if (state?.reason && !/^none$/i.test(state.reason) && view.status !== "COMPLETED" && view.status !== "BLOCKED") notes.push(`reason ${state.reason}`);
  if (state?.exit_code && state.exit_code !== "0:0") notes.push(`exit ${state.exit_code}`);
  if (state?.restarts) notes.push(`restarts ${state.restarts}`);
  if (view.status === "BLOCKED") notes.push(`blocked by ${describeBlockers(view)}`);
  const attempt = record.job?.attempt && record.job.attempt > 1 ? `attempt ${record.job.attempt}` : undefined;
  const changed = view.paramChanges.length ? `ran with ${describeParamChanges(view.paramChanges)}` : undefined;
  if (attempt || changed) notes.push([attempt, changed].filter(Boolean).join(", "));
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
