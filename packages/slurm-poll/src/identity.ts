import { matchesTag, parseJobTag } from "@slurmpipe/core";
import { PLACEHOLDER_NAME } from "./sacct.ts";
import type { Track } from "./track.ts";

/**
 * Is the job Slurm shows under our id really ours? Job ids restart after a controller loses its
 * state, so an id can name an older job (still in sacct) or a newer one (submitted by anyone).
 *   - the job name decides when both are known: the name carries the run-id tag
 *   - without a name to compare, a submit time clearly before ours means an older job
 *     (a later one is fine: a requeue resets the submit time)
 *   - sacct's placeholder name "allocation" decides nothing: the accounting row lags
 */
export type Identity = "ours" | "not-ours" | "undecided";

/** Slack for the submit-time comparison: sbatch retries and clock skew between hosts. */
export const SUBMIT_SLACK_MS = 5 * 60_000;

export function identify(track: Pick<Track, "jobName" | "runId" | "attempt" | "submittedAt">, name: string | undefined, submittedAt: string | undefined): Identity {
  const seen = name?.trim();
  if (seen === PLACEHOLDER_NAME) return "undecided";
  if (seen) {
    if (track.jobName) {
      if (seen === track.jobName) return "ours";
      const want = parseJobTag(track.jobName);
      const got = parseJobTag(seen);
      if (want && got) return want.runIdPrefix === got.runIdPrefix && want.attempt === got.attempt ? "ours" : "not-ours";
      return "not-ours";
    }
    if (track.runId && parseJobTag(seen)) {
      try {
        return matchesTag(seen, track.runId, track.attempt ?? 1) ? "ours" : "not-ours";
      } catch {
        // run id too short to be a tag: fall through to the submit time
      }
    }
  }
  if (track.submittedAt && submittedAt) {
    const ours = Date.parse(track.submittedAt);
    const theirs = Date.parse(submittedAt);
    if (Number.isFinite(ours) && Number.isFinite(theirs) && theirs < ours - SUBMIT_SLACK_MS) return "not-ours";
  }
  return "ours";
}
