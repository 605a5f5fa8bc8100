import { type JobState, type RunRecord, StringPool, type TextRef } from "@slurmpipe/core";
import type { TrackedId } from "./ids.ts";

/**
 * What slurm-poll remembers about one tracked job between cycles and between runs
 * (persisted in <state>/poll/jobs.ndjson, see store.ts): the last state it reported, so a restarted poll goes on
 * without repeating events, and what it needs to tell our job from a job that reuses its id.
 */
export interface Track {
  /** Job key as Slurm prints the job: "123" or "123_4". */
  key: string;
  queryId: string;
  arrayJobId?: string;
  arrayTask?: number;
  runId?: string;
  /** Run name (events carry it). */
  name?: string;
  /** The Slurm job name the job was submitted with (carries the run-id tag). */
  jobName?: string;
  attempt?: number;
  /** When slurm-submit saw sbatch answer. */
  submittedAt?: string;
  /** When this poll first tracked the job (bounds the sacct window when submittedAt is unknown). */
  trackedAt: string;
  /** The raw job id (differs from the key for array tasks that started): `%j` in log paths. */
  rawId?: string;
  /** Last state reported (event or record); undefined until the job was first seen. */
  state?: JobState;
  /** The last state squeue or sacct confirmed (UNKNOWN never overwrites it). */
  lastKnownState?: string;
  /** Last time squeue or sacct confirmed the job. */
  lastSeenAt?: string;
  /** Submit time last seen: a requeue resets it, which reveals restarts we did not see happen. */
  seenSubmitAt?: string;
  restarts: number;
  /** A requeue was counted and the job has not run again yet (do not count it twice). */
  requeuePending?: boolean;
  /** squeue showed a final state at this time; waiting (briefly) for sacct's exit code and MaxRSS. */
  finalSeenAt?: string;
  /**
   * Absence clock of `--lost-after` (see lost.ts): time missing from both squeue and sacct, summed
   * over consecutive answered cycles, and the last such cycle (unset after a failed query).
   */
  missingMs?: number;
  missingCheckedAt?: string;
  /**
   * The backend said the job is lost (the local backend's BootIdChanged: its machine rebooted since
   * submission), with why: lost at once, no --lost-after clock needed (see lost.ts).
   */
  hostLost?: string;
  /** The final run record was written. */
  finalEmitted?: boolean;
  /** Warned that the id now belongs to another job. */
  warnedReuse?: boolean;
  flagged?: boolean;
  loggedSubmit?: boolean;
  earlyChecked?: boolean;
  /** --cancel-unsatisfiable: when scancel was asked to cancel this blocked job. */
  cancelRequestedAt?: string;
  /** Still blocked in a cycle after its scancel: no longer waited for. */
  cancelIneffective?: boolean;
}

/** A job tracked in this session: its track, and where its run record waits (core's ScratchTexts). */
export interface TrackedRun {
  track: Track;
  record: TextRef;
  /** The run's name (events and warnings carry it). */
  name: string;
  /** Its record was written out in this session (once; again only after it was reported lost and came back). */
  emitted: boolean;
}

/** Store key: the job plus the run and attempt, so a reused id on a new submission starts afresh. */
export function storeKey(key: string, record: Pick<RunRecord, "id" | "job">): string {
  // join makes one flat string; a template literal keeps its pieces (~100 bytes more per job).
  return [key, record.id, record.job?.attempt ?? 1].join("|");
}

/**
 * `date.toISOString()`, one copy per time: every job of a cycle is stamped with the cycle's time
 * (confirmed_at, the lost clock), and 100,000 copies of it were ~4 MB.
 */
export function isoTime(date: Date): string {
  const ms = date.getTime();
  if (ms !== lastIso.ms) lastIso = { ms, text: date.toISOString() };
  return lastIso.text;
}
let lastIso = { ms: Number.NaN, text: "" };

export function newTrack(id: TrackedId, record: RunRecord, now: Date, pool: StringPool = new StringPool()): Track {
  const job = record.job!;
  const t: Track = { key: id.key, queryId: pool.get(id.queryId), trackedAt: pool.get(isoTime(now)), restarts: 0 };
  if (id.arrayJobId !== undefined) t.arrayJobId = pool.get(id.arrayJobId);
  if (id.arrayTask !== undefined) t.arrayTask = id.arrayTask;
  t.runId = record.id;
  t.name = record.name;
  if (job.name) t.jobName = pool.get(job.name);
  if (job.attempt) t.attempt = job.attempt;
  if (job.submitted_at) t.submittedAt = pool.get(job.submitted_at);
  return t;
}

/**
 * A track read back from the poll store shares the strings many tracks repeat (times, array ids, job
 * names, state words), as tracks made in this session do: ~30 MB less at 100,000 jobs.
 */
export function shareStrings(t: Track, pool: StringPool): Track {
  for (const k of TRACK_SHARED) if (typeof t[k] === "string") (t as unknown as Record<string, string>)[k] = pool.get(t[k] as string);
  const s = t.state as Record<string, unknown> | undefined;
  if (s) for (const k of STATE_SHARED) if (typeof s[k] === "string") s[k] = pool.get(s[k]);
  return t;
}
const TRACK_SHARED = ["queryId", "arrayJobId", "jobName", "submittedAt", "trackedAt", "rawId", "lastKnownState", "lastSeenAt", "seenSubmitAt", "missingCheckedAt"] as const;
const STATE_SHARED = ["state", "category", "source", "reason", "confirmed_at", "node_list"] as const;

export function isFinal(t: Track): boolean {
  return t.state?.terminal === true;
}

/** PENDING on a dependency that can never be satisfied (state category "blocked"). */
export function isBlocked(t: Track): boolean {
  return t.state?.category === "blocked";
}

/**
 * A blocked job ends a watch as a failure does: nothing will change unless someone acts. With
 * --cancel-unsatisfiable the watch waits for the CANCELLED its scancel brings (unless the job is
 * still blocked in a cycle after the scancel).
 */
export function blockedSettled(t: Track, cancelUnsatisfiable: boolean): boolean {
  return isBlocked(t) && (!cancelUnsatisfiable || t.cancelIneffective === true);
}

/** The earliest submit (or tracking) time, in ms; a loop, as Math.min(...times) overflows the stack past ~120,000 jobs. */
export function earliestTime(tracks: Iterable<Track>, atMost: number): number {
  let earliest = atMost;
  for (const t of tracks) {
    const ms = Date.parse(t.submittedAt ?? t.trackedAt);
    if (ms < earliest) earliest = ms;
  }
  return earliest;
}
