import type { JobState, StringPool } from "@slurmpipe/core";
import { LOST_FLAG, isLost, markLost, updateMissingClock } from "./lost.ts";
import type { Decision } from "./machine.ts";
import type { Track } from "./track.ts";

/**
 * The second half of a job's cycle: `decide` (machine.ts) says what Slurm's answers mean, this
 * step folds that decision into the job's track and says what has to be reported. Like `decide`
 * it does no I/O and reads no clock, so every rule about requeue limits, lost jobs, early
 * failures and when a record is due can be tested without Slurm, files or output streams.
 *
 * It changes the track in place rather than returning a new one: at 100,000 jobs a fresh track
 * (and state) per job and cycle was ~15 MB of old-generation garbage a cycle. The caller (cycle.ts)
 * does the one read it needs first (the stderr tail of an early failure, see earlyCheckDue) and
 * turns the effects into output, in order (report.ts).
 */
export interface ApplyRules {
  /** --max-requeues: more restarts than this flag the job. */
  maxRequeues?: number;
  /** --lost-after in ms; 0 disables it. */
  lostAfterMs: number;
  /** --early: a failure within this many ms gets its stderr tail shown. */
  earlyMs?: number;
}

/** What the caller read for an early failure: the stderr file's last lines, or why it could not. */
export interface EarlyTail {
  path: string;
  tail: string[];
  error?: string;
}

/** What applying a decision asks the caller to report, in the order it is to be reported. */
export type Effect =
  /** The job id names someone else's job (reported once per job). */
  | { kind: "reused"; note: string }
  /** The job went over --max-requeues (reported once per job). */
  | { kind: "requeue-limit"; restarts: number; limit: number }
  /** Failed within --early: `state.early_failure` holds the tail. */
  | { kind: "early-failure"; state: JobState }
  /** The state word changed: an event. */
  | { kind: "changed"; from: JobState | undefined; to: JobState }
  /** Missing long enough to be lost (`newly`: for the first time). */
  | { kind: "lost"; state: JobState; newly: boolean }
  /** Reported lost before, listed again now: its final record is still to come. */
  | { kind: "found-again"; state: JobState }
  /** The run record (with its state) goes downstream now: the job is terminal or lost. */
  | { kind: "record-due" };

/** Must the caller read the job's stderr tail before applyDecision? (A failure within --early, not checked yet.) */
export function earlyCheckDue(t: Track, d: Decision, earlyMs: number | undefined): boolean {
  const s = d.state;
  if (!s?.terminal || s.category !== "failure" || earlyMs === undefined || t.earlyChecked) return false;
  return (s.elapsed_s ?? 0) * 1000 <= earlyMs;
}

/**
 * Folds one cycle's decision into the track. Strings that many tracks repeat are taken from the
 * pool (one copy each). `early` is what the caller read when earlyCheckDue said so.
 */
export function applyDecision(t: Track, d: Decision, now: Date, rules: ApplyRules, pool: StringPool, early?: EarlyTail): Effect[] {
  const effects: Effect[] = [];
  if (d.reused && !t.warnedReuse) {
    effects.push({ kind: "reused", note: d.reused });
    t.warnedReuse = true;
  }
  if (d.rawId) t.rawId = pool.get(d.rawId);
  if (d.seenSubmitAt) t.seenSubmitAt = pool.get(d.seenSubmitAt);
  if (d.restarts !== undefined) t.restarts = Math.max(t.restarts, d.restarts);
  if (d.requeuePending !== undefined) t.requeuePending = d.requeuePending;
  if (d.finalSeenAt !== undefined) t.finalSeenAt = d.finalSeenAt;
  updateMissingClock(t, d.presence, now);
  const state = d.state;
  if (!state) return effects;
  // Reported lost by its backend this cycle, or seen alive again (a real state from squeue or sacct).
  if (d.hostLost !== undefined) t.hostLost = d.hostLost;
  else if (state.source !== "none") delete t.hostLost;
  if (state.reason) state.reason = pool.get(state.reason);
  if (state.node_list) state.node_list = pool.get(state.node_list);
  if (state.source !== "none") {
    t.lastSeenAt = pool.get(state.confirmed_at ?? now.toISOString());
    t.lastKnownState = state.state;
  }
  state.restarts = Math.max(state.restarts ?? 0, t.restarts);
  if (rules.maxRequeues !== undefined && state.restarts > rules.maxRequeues) {
    if (!t.flagged) effects.push({ kind: "requeue-limit", restarts: state.restarts, limit: rules.maxRequeues });
    t.flagged = true;
  }
  if (t.flagged) state.flag = "too_many_requeues";
  const wasLost = t.state?.flag === LOST_FLAG;
  const lost = isLost(t, rules.lostAfterMs);
  if (lost) markLost(state, t); // the flag of the moment wins over too_many_requeues
  if (state.terminal && state.category === "failure") {
    if (checkEarly(t, state, rules.earlyMs, early)) effects.push({ kind: "early-failure", state });
  } else if (t.state?.early_failure) state.early_failure = t.state.early_failure;
  const prev = t.state;
  // Unchanged but for its time: the stored object is kept (a new one per job and cycle was
  // ~15 MB of old-generation garbage a cycle at 100,000 jobs).
  if (prev && sameState(prev, state)) {
    if (state.confirmed_at !== undefined) prev.confirmed_at = state.confirmed_at;
  } else t.state = state;
  // A change of category alone is an event too: PENDING -> PENDING (blocked) when the upstream job failed.
  if (prev?.state !== state.state || prev?.category !== state.category) effects.push({ kind: "changed", from: prev, to: state });
  if (lost) effects.push({ kind: "lost", state, newly: !wasLost }, { kind: "record-due" });
  else if (wasLost && d.presence === "present") effects.push({ kind: "found-again", state });
  if (state.category === "blocked") {
    if (t.cancelRequestedAt !== undefined && now.getTime() > Date.parse(t.cancelRequestedAt)) t.cancelIneffective = true;
    // Its record goes downstream once, when it becomes blocked (a watch may end on it).
    if (prev?.category !== "blocked") effects.push({ kind: "record-due" });
  }
  if (state.terminal) effects.push({ kind: "record-due" });
  return effects;
}

/**
 * --early, once per job: a failure that ran no longer than the limit gets the stderr tail the
 * caller read (true: report it). A job checked before keeps what its check found.
 */
function checkEarly(t: Track, state: JobState, earlyMs: number | undefined, early: EarlyTail | undefined): boolean {
  if (earlyMs === undefined) return false;
  if (t.earlyChecked) {
    if (t.state?.early_failure) state.early_failure = t.state.early_failure;
    return false;
  }
  t.earlyChecked = true;
  const ran = state.elapsed_s ?? 0;
  if (ran * 1000 > earlyMs) return false;
  if (!early) throw new Error(`job ${t.key}: an early failure to report, but its stderr was not read (see earlyCheckDue)`);
  state.early_failure = { elapsed_s: ran, path: early.path, tail: early.tail, ...(early.error ? { error: early.error } : {}) };
  return true;
}

/** The same fields in the same order with the same values, confirmed_at aside. */
export function sameState(a: JobState, b: JobState): boolean {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i] as keyof JobState;
    if (k !== kb[i]) return false;
    if (k === "confirmed_at") continue;
    const x = a[k];
    const y = b[k];
    if (x !== y && !(Array.isArray(x) && Array.isArray(y) && x.join(",") === y.join(","))) return false;
  }
  return true;
}
