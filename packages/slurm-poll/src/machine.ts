import { type JobState, type ParsedState, REBOOT_LOST_REASON, dependencyJobIds, isNeverSatisfiedReason } from "@slurmpipe/core";
import { identify } from "./identity.ts";
import type { Presence } from "./lost.ts";
import { type SacctJob, type SacctRun, newestRun, peakRss } from "./sacct.ts";
import type { SqueueRow } from "./squeue.ts";
import { type Track, isoTime } from "./track.ts";

/**
 * The per-job decision of one cycle. The rules that make slurm-poll honest:
 *   - a failed query decides nothing: the caller passes "failed" and nothing changes
 *   - slurmctld (squeue) is the authority while it lists the job; sacct only for jobs it dropped
 *   - PREEMPTED / NODE_FAIL while slurmctld still lists the job are not final: with --requeue the
 *     same id comes back PENDING. They are final only from sacct's newest run, once squeue dropped it
 *   - COMPLETING is not final
 *   - a job in neither squeue nor sacct is UNKNOWN (never terminal), confirmed at the last sighting;
 *     `presence` tells lost.ts whether both queries answered without it (the --lost-after clock)
 *   - a job under our id with another name (or an older submit time) is not ours: treated as absent
 */
export type AcctView = { status: "ok"; job?: SacctJob } | { status: "failed" } | { status: "not-asked" };

export interface Decision {
  /** The new state, or undefined: nothing to change this cycle. */
  state?: JobState;
  /** The id names another job (warn once). */
  reused?: string;
  /** Need sacct this cycle (the caller asks it in the one batched call). */
  needsAcct?: boolean;
  rawId?: string;
  seenSubmitAt?: string;
  restarts?: number;
  requeuePending?: boolean;
  finalSeenAt?: string;
  /** Listed by squeue or sacct, missing from both (both answered), or unset: a query failed. */
  presence?: Presence;
  /** The backend reports the job lost (its machine rebooted), with why. */
  hostLost?: string;
}

/** How long a final state seen only in squeue waits for sacct's exit code and MaxRSS. */
export const ACCOUNTING_GRACE_MS = 60_000;

const REQUEUE_LIKE = new Set(["REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "PREEMPTED", "NODE_FAIL"]);
/** Final base states that a requeue can undo while slurmctld still holds the job. */
const UNDOABLE = new Set(["PREEMPTED", "NODE_FAIL"]);

/** squeue rows under the job's key that are ours, and whether another job holds the id. */
export function ourRow(track: Track, rows: readonly SqueueRow[] | undefined): { row?: SqueueRow; reused?: string } {
  let reused: string | undefined;
  for (const r of rows ?? []) {
    if (identify(track, r.name, r.submittedAt) === "not-ours") reused = `squeue shows job ${track.key} as ${JSON.stringify(r.name)} (submitted ${r.submittedAt ?? "?"})`;
    else return { row: r };
  }
  return reused ? { reused } : {};
}

/** Does the job need the sacct call this cycle? (absent from squeue, or ended there: exit code, MaxRSS). */
export function needsAccounting(row: SqueueRow | undefined): boolean {
  return !row || (row.state.terminal && !UNDOABLE.has(row.state.state));
}

export function decide(track: Track, rows: readonly SqueueRow[] | undefined, acct: AcctView, now: Date): Decision {
  const at = isoTime(now);
  const { row, reused } = ourRow(track, rows);
  if (row) {
    const d = fromSqueue(track, row, acct, now, reused);
    d.presence = "present";
    return d;
  }
  // Not (or no longer) in slurmctld: accounting decides, if it answered.
  if (acct.status !== "ok") return reused ? { reused } : {};
  const runs = (acct.job?.runs ?? []).filter((r) => identify(track, r.name, r.submittedAt) !== "not-ours");
  const foreign = (acct.job?.runs.length ?? 0) > runs.length;
  const reuseNote = reused ?? (foreign ? `sacct shows job ${track.key} under another name or an older submit time` : undefined);
  const decided = runs.filter((r) => identify(track, r.name, r.submittedAt) === "ours");
  const newest = newestRun(decided);
  // Rows of a job that reuses our id do not count: our job is missing from both.
  const base: Decision = { presence: runs.length > 0 ? "present" : "absent", ...(reuseNote ? { reused: reuseNote } : {}) };
  if (!newest) {
    const why = runs.length > decided.length ? "accounting has only a placeholder record so far" : "not found in squeue or sacct";
    return { ...base, state: unknown(track, why) };
  }
  if (!newest.state.known) return { ...base, state: unknown(track, `slurmctld no longer lists the job; sacct state ${JSON.stringify(newest.stateText)} not understood`) };
  const restarts = Math.max(track.restarts, countRestarts(decided));
  if (!newest.state.terminal) {
    // The local backend's machine rebooted since submission (store.ts lostToReboot): lost, with its reason.
    if (newest.reason?.startsWith(REBOOT_LOST_REASON)) return { ...base, restarts, state: unknown(track, newest.reason, restarts), hostLost: newest.reason };
    // slurmctld dropped it but accounting never recorded an end (lost controller state, or lag).
    return { ...base, restarts, state: unknown(track, `slurmctld no longer lists the job; sacct still says ${newest.state.state}`, restarts) };
  }
  const state = fromRun(newest, acct.job!, at, restarts);
  return { ...base, state, restarts, rawId: newest.rawId };
}

function fromSqueue(track: Track, row: SqueueRow, acct: AcctView, now: Date, reused: string | undefined): Decision {
  const at = isoTime(now);
  const s = row.state;
  const d: Decision = { rawId: row.rawId };
  if (reused) d.reused = reused;
  if (row.submittedAt) d.seenSubmitAt = row.submittedAt;

  // Restarts: a move from running (or a requeue state) back to pending, or a submit time that moved
  // on (a requeue resets it, even when the whole requeue happened between two polls).
  let restarts = track.restarts;
  let requeuePending = track.requeuePending ?? false;
  const prev = track.state?.state;
  const prevCat = track.state?.category;
  const backToQueue = (s.category === "pending" || REQUEUE_LIKE.has(s.state)) && (prevCat === "active" || (prev !== undefined && REQUEUE_LIKE.has(prev)));
  const submitMoved = !!(track.seenSubmitAt && row.submittedAt && Date.parse(row.submittedAt) > Date.parse(track.seenSubmitAt) + 1000);
  if (!requeuePending && (backToQueue || submitMoved)) {
    restarts += 1;
    requeuePending = s.category !== "active";
  } else if (requeuePending && s.category === "active") requeuePending = false;
  d.restarts = restarts;
  d.requeuePending = requeuePending;

  if (UNDOABLE.has(s.state)) {
    // Still held by slurmctld: it may come back PENDING with the same id. Not a failure yet.
    d.state = stateFromRow(row, at, restarts, { terminal: false, category: "uncertain", note: "still listed by slurmctld: it may be requeued" });
    return d;
  }
  if (!s.terminal) {
    d.state = stateFromRow(row, at, restarts);
    return d;
  }
  // Ended in slurmctld. sacct adds exit code, MaxRSS, ReqMem; it lags by seconds, so wait a little.
  const finalSeenAt = track.finalSeenAt ?? at;
  d.finalSeenAt = finalSeenAt;
  const runs = acct.status === "ok" ? (acct.job?.runs ?? []).filter((r) => identify(track, r.name, r.submittedAt) === "ours") : [];
  const newest = newestRun(runs);
  if (newest?.state.terminal && acct.status === "ok") {
    const state = fromRun(newest, acct.job!, at, Math.max(restarts, countRestarts(runs)));
    state.state = s.state; // slurmctld's word on the state; sacct's on the numbers
    state.category = s.category;
    state.source = "squeue";
    if (row.nodeList && !state.node_list) state.node_list = row.nodeList;
    d.state = state;
    return d;
  }
  if (now.getTime() - Date.parse(finalSeenAt) < ACCOUNTING_GRACE_MS) {
    d.needsAcct = true;
    return d; // no state change yet: the next cycle asks sacct again
  }
  d.state = stateFromRow(row, at, restarts, { note: "sacct had no record of the end; exit code unknown" });
  return d;
}

/** Restarts recorded by accounting: every run before the newest one (sacct -D). */
export function countRestarts(runs: readonly SacctRun[]): number {
  return Math.max(0, runs.length - 1);
}

function put<K extends keyof JobState>(s: JobState, k: K, v: JobState[K] | undefined): void {
  if (v !== undefined) s[k] = v;
}

export function stateFromRow(
  row: SqueueRow,
  at: string,
  restarts: number,
  override: { terminal?: boolean; category?: JobState["category"]; note?: string } = {},
): JobState {
  const s = row.state;
  const state: JobState = {
    state: s.state,
    category: override.category ?? s.category,
    terminal: override.terminal ?? s.terminal,
    confirmed_at: at,
    source: "squeue",
    restarts,
  };
  const reason = [row.reason, override.note].filter(Boolean).join("; ");
  if (reason) state.reason = reason;
  // PENDING on a dependency that can never be met (an afterok upstream failed): Slurm keeps it so
  // for good, so it is "blocked", named with the upstream jobs %E marks (failed).
  if (s.category === "pending" && !override.category && isNeverSatisfiedReason(row.reason)) {
    state.category = "blocked";
    const upstream = dependencyJobIds(row.dependency, true);
    if (upstream.length) state.blocked_by = upstream;
  }
  const ran = s.category !== "pending" && !(s.state === "CANCELLED" && !row.nodeList);
  if (ran) {
    put(state, "started_at", row.startedAt);
    put(state, "elapsed_s", row.elapsedS);
    put(state, "node_list", row.nodeList);
  }
  if (s.terminal) put(state, "ended_at", row.endedAt);
  put(state, "time_limit_s", row.timeLimitS);
  put(state, "req_mem_bytes", row.reqMemBytes);
  return state;
}

export function fromRun(run: SacctRun, job: SacctJob, at: string, restarts: number): JobState {
  const p: ParsedState = run.state;
  const state: JobState = { state: p.state, category: p.category, terminal: p.terminal, confirmed_at: at, source: "sacct", restarts };
  const reasons: string[] = [];
  if (run.reason) reasons.push(run.reason);
  if (p.cancelledBy !== undefined) reasons.push(`cancelled by uid ${p.cancelledBy}`);
  if (reasons.length) state.reason = reasons.join("; ");
  put(state, "exit_code", run.exitCode);
  put(state, "started_at", run.startedAt);
  put(state, "ended_at", run.endedAt);
  put(state, "elapsed_s", run.elapsedS);
  put(state, "time_limit_s", run.timeLimitS);
  put(state, "node_list", run.nodeList);
  put(state, "req_mem_bytes", run.reqMemBytes);
  put(state, "max_rss_bytes", peakRss(job.steps, run.startedAt));
  return state;
}

/** Neither squeue nor sacct vouches for the job: uncertain, never terminal, confirmed when last seen. */
export function unknown(track: Track, why: string, restarts = track.restarts): JobState {
  const last = track.state;
  const seen = track.lastKnownState ? ` (last seen ${track.lastKnownState}${track.lastSeenAt ? ` at ${track.lastSeenAt}` : ""})` : "";
  const state: JobState = { state: "UNKNOWN", category: "uncertain", terminal: false, reason: why + seen, source: "none", restarts };
  if (track.lastSeenAt) state.confirmed_at = track.lastSeenAt;
  for (const k of ["started_at", "node_list", "time_limit_s", "req_mem_bytes"] as const) if (last?.[k] !== undefined) (state as Record<string, unknown>)[k] = last[k];
  return state;
}
