import { UsageError } from "../ndjson/errors.ts";

/**
 * ISO 8601 as a person types it: a date, optionally a time (seconds and fractions optional) and a
 * zone. `new Date(text)` alone also takes "1.5" (1 May 2001) or "March 7", which is never meant.
 */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$/i;
const UNIX_SECONDS = /^\d+$/;

/**
 * The report time of a command whose output should be byte-identical for the same inputs, the one
 * rule for `--now` and SOURCE_DATE_EPOCH (archive and summary-md): `--now` is an ISO 8601 time or
 * whole Unix seconds; else SOURCE_DATE_EPOCH, whole Unix seconds as the reproducible-builds
 * specification requires (https://reproducible-builds.org/specs/source-date-epoch/: "an integer",
 * no fraction); else the clock. An empty SOURCE_DATE_EPOCH counts as unset.
 */
export function resolveNow(now: string | undefined, env: NodeJS.ProcessEnv): Date {
  if (now !== undefined) {
    const text = now.trim();
    const d = UNIX_SECONDS.test(text) ? new Date(Number(text) * 1000) : ISO_8601.test(text) ? new Date(text) : undefined;
    if (d === undefined || Number.isNaN(d.getTime())) throw new UsageError(`--now: expected an ISO 8601 time (2026-01-31T12:00:00Z) or whole Unix seconds, got ${JSON.stringify(now)}`);
    return d;
  }
  const sde = env.SOURCE_DATE_EPOCH;
  if (sde !== undefined && sde !== "") {
    const d = UNIX_SECONDS.test(sde) ? new Date(Number(sde) * 1000) : undefined;
    if (d === undefined || Number.isNaN(d.getTime())) throw new UsageError(`SOURCE_DATE_EPOCH: expected whole Unix seconds, got ${JSON.stringify(sde)}`);
    return d;
  }
  return new Date();
}
