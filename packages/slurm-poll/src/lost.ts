import type { JobState } from "@slurmpipe/core";
import { humanElapsed } from "./humanlog.ts";
import { type Track, isoTime } from "./track.ts";

/**
 * `--lost-after`: a job that neither squeue nor sacct has listed for this long stops holding up the
 * watch. A live job is always in squeue, so absence from both is strong evidence; but only answers
 * count: the clock runs between two consecutive cycles whose squeue AND sacct both answered and both
 * lacked the job. A failed or timed-out query breaks the chain (the time around it is not counted),
 * so a controller outage never makes a job lost. Any sighting resets the clock.
 *
 * A lost job stays UNKNOWN (uncertain, never terminal) with `state.flag: "lost"`; it is still
 * queried, and tracked normally again if it reappears. The clock lives in the track, so it survives
 * restarts (`--once` from cron).
 */
export const DEFAULT_LOST_AFTER_MS = 30 * 60_000;
export const LOST_FLAG = "lost";

/** What one cycle learned about a job: listed by squeue or sacct, missing from both, or nothing (a query failed). */
export type Presence = "present" | "absent" | undefined;

/** Advances, resets or breaks the job's absence clock with what this cycle learned. */
export function updateMissingClock(t: Track, presence: Presence, now: Date): void {
  if (presence === "present") {
    delete t.missingMs;
    delete t.missingCheckedAt;
    return;
  }
  if (presence === undefined) {
    breakMissingClock(t);
    return;
  }
  const last = t.missingCheckedAt === undefined ? Number.NaN : Date.parse(t.missingCheckedAt);
  const gap = Number.isFinite(last) ? Math.max(0, now.getTime() - last) : 0;
  t.missingMs = (t.missingMs ?? 0) + gap;
  t.missingCheckedAt = isoTime(now);
}

/** A query failed: the time until the next answered cycle must not count. What was counted stays. */
export function breakMissingClock(t: Track): void {
  delete t.missingCheckedAt;
}

/**
 * lostAfterMs 0 disables the absence rule. A job its backend reported lost (t.hostLost: the box
 * rebooted since submission, so no process of it is left) is lost whatever the clock: waiting
 * longer cannot bring it back, and nothing says how its script ended, so UNKNOWN, never FAILED.
 */
export function isLost(t: Track, lostAfterMs: number): boolean {
  if (t.state?.terminal === true) return false;
  if (t.hostLost !== undefined) return true;
  return lostAfterMs > 0 && t.missingMs !== undefined && t.missingMs >= lostAfterMs;
}

/** Marks an UNKNOWN state lost: the flag, and a reason naming how long and since when. */
export function markLost(state: JobState, t: Track): void {
  state.flag = LOST_FLAG;
  state.reason = lostReason(t);
}

export function lostReason(t: Track): string {
  if (t.hostLost !== undefined) return `lost: ${t.hostLost}; no longer waited for`;
  const missing = humanElapsed((t.missingMs ?? 0) / 1000);
  const seen = t.lastSeenAt ? `last seen ${t.lastKnownState ?? "by Slurm"} at ${t.lastSeenAt}` : `never seen by squeue or sacct (tracked since ${t.trackedAt})`;
  return `lost: missing from squeue and sacct for ${missing} of answered queries; ${seen}; no longer waited for`;
}
