import { type ResolvedLogPath, type RunRecord, defaultLogPattern, findLogFile } from "@slurmpipe/core";

/**
 * A record's log files, by core's one resolver (core/src/slurm/log-paths.ts): sbatch's
 * `--output`/`--error` patterns filled from `job` (`%j` an array task's `job.raw_id`), `%u` from
 * `job.user` else `--user`, `%N` from `state.node_list`, relative paths against `--base-dir`. An
 * array task's unknown raw `%j` is matched in the directory or guessed (the path marked `guessed`);
 * what cannot be filled never throws: the file is reported missing with a note.
 */
export type ResolvedPath = ResolvedLogPath;

export interface PatternContext {
  user?: string;
  baseDir?: string;
}

export function resolveLogPath(pattern: string, record: Partial<RunRecord>, ctx: PatternContext = {}): Promise<ResolvedPath> {
  const job = record.job as (RunRecord["job"] & { user?: string }) | undefined;
  return findLogFile(pattern, job, { user: ctx.user, nodeList: record.state?.node_list, baseDir: ctx.baseDir });
}

/** Slurm's defaults when a record has a job but no log patterns. */
export function defaultPatterns(record: Partial<RunRecord>): { stdout: string } {
  return { stdout: defaultLogPattern(record.job) };
}
