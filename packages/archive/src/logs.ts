import { type LogJob, type LogPathContext, logPathGlob } from "@slurmpipe/core";
import fg from "fast-glob";

/** What sbatch knows when it expands an --output/--error pattern (a record's `job` fits). */
export type JobInfo = LogJob;

/**
 * Turns an sbatch filename pattern into a glob by core's log-path rules (core/src/slurm/log-paths.ts):
 * what the record knows is filled in (an array task's %j only from `raw_id`, %u from `job.user`
 * else `ctx.user`, %N from a one-node `ctx.nodeList`, %n %t %s %J as the batch step has them);
 * what it cannot know (an array task's %j without `raw_id`, %N of an unknown host, %b) becomes `*`.
 * Literal parts are glob-escaped so a run name with brackets does not turn into a character class.
 * Returns the glob and whether it has wildcards.
 */
export function expandLogPattern(pattern: string, job: JobInfo, ctx: Pick<LogPathContext, "user" | "nodeList" | "baseDir"> = {}): { glob: string; wildcard: boolean } {
  return logPathGlob(pattern, job, (t) => fg.escapePath(t), ctx);
}
