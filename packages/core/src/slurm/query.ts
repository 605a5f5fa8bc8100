/**
 * What slurmpipe asks squeue and sacct, and how it reads the answers: one format per query, one
 * policy for output that is not what was asked for, one spelling list for "no value", one time
 * formatter for `sacct -S`. slurm-submit (lookups by job name, jobs in flight) and slurm-poll (states
 * by job id) both use these, so a newcomer changes a rule here, once.
 *
 * Formats: explicit fields, `|`-separated, no widths (widths cut ids and names), and the job name
 * LAST: it is the only free text (a job someone else named `a|b` must not shift the state field),
 * so a line is split into the fields before it and the rest, which is the name.
 * runSlurm clears the SQUEUE_ and SACCT_ variables and sets SLURM_TIME_FORMAT=standard and SLURM_BITSTR_LEN=0.
 *
 * Malformed output: a line with fewer fields than asked for is not guessed at; it is a
 * SlurmOutputError naming the command and the line, and the caller treats the whole answer as
 * "Slurm could not be asked" (never as "the job is absent", which would resubmit it, nor as a
 * state). A line whose fields are all there but whose job id cannot be read is reported by the
 * caller and left out.
 */

/** `squeue` fields for finding jobs by name (slurm-submit): id, state, submit time, name. */
export const SQUEUE_BY_NAME_FIELDS = ["%i", "%T", "%V", "%j"] as const;
/** `sacct -X` fields for finding jobs by name (slurm-submit): the same, from accounting. */
export const SACCT_BY_NAME_FIELDS = ["JobID", "State", "Submit", "JobName"] as const;
/**
 * `squeue -r` fields for the states of tracked jobs (slurm-poll): printed and raw id, array job
 * and task, state, reason, elapsed, limit, nodes, start, end, submit, memory, dependency (%E:
 * `afterok:167(failed)` names the upstream job of a DependencyNeverSatisfied), name.
 */
export const SQUEUE_BY_ID_FIELDS = ["%i", "%A", "%F", "%K", "%T", "%r", "%M", "%l", "%N", "%S", "%e", "%V", "%m", "%E", "%j"] as const;
/** `sacct -D` fields for the states of tracked jobs (slurm-poll); no -X: steps carry MaxRSS. */
export const SACCT_BY_ID_FIELDS = ["JobID", "JobIDRaw", "State", "ExitCode", "Elapsed", "Start", "End", "Submit", "MaxRSS", "ReqMem", "Timelimit", "NodeList", "Reason", "JobName"] as const;

/** The `-o` argument for a field list. */
export function squeueFormat(fields: readonly string[]): string {
  return fields.join("|");
}
export function sacctFormat(fields: readonly string[]): string {
  return fields.join(",");
}

export class SlurmOutputError extends Error {
  constructor(
    readonly command: "squeue" | "sacct",
    readonly line: string,
    readonly expected: number,
  ) {
    super(`${command} printed a line that does not have the ${expected} requested fields: ${JSON.stringify(line.slice(0, 200))}`);
    this.name = "SlurmOutputError";
  }
}

/**
 * One `|`-separated line as `count` fields, the last one (the job name) holding any `|` it
 * contains; leading and trailing blanks of every field but the name are trimmed. Throws
 * SlurmOutputError when fields are missing.
 */
export function slurmFields(line: string, count: number, command: "squeue" | "sacct"): string[] {
  const parts = line.split("|");
  if (parts.length < count) throw new SlurmOutputError(command, line, count);
  const fields = parts.slice(0, count - 1).map((p) => p.trim());
  fields.push(parts.slice(count - 1).join("|"));
  return fields;
}

/**
 * How squeue and sacct print "no value" in a field: empty, `(null)`, `N/A` (squeue times and
 * nodes), `None`/`NONE` (reasons, times of jobs that never started), `None assigned` (sacct's
 * NodeList of a pending job), `Unknown` (sacct's End of a running job, Start of a pending one).
 */
export function isSlurmNull(text: string): boolean {
  return SLURM_NULLS.has(text.trim());
}
const SLURM_NULLS = new Set(["", "(null)", "N/A", "None", "NONE", "None assigned", "Unknown"]);

/**
 * The `-S`/`-E` argument for a moment: local time without a zone (`YYYY-MM-DDTHH:MM:SS`), which
 * is how Slurm reads a time (in the time zone of the process, like every Slurm timestamp).
 */
export function slurmTimeArg(at: Date | number): string {
  const d = new Date(at);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
