import { NO_ARRAY_TASK, fillFilenamePattern } from "@slurmpipe/core";
import fg from "fast-glob";

/** What sbatch knows when it expands an --output/--error pattern. */
export interface JobInfo {
  id?: string;
  name?: string;
  array_job_id?: string;
  array_task?: number;
  /** An array task's own raw id once it ran (slurm-poll adds it): what its %j was. */
  raw_id?: string;
  user?: string;
}

/**
 * Turns an sbatch filename pattern into a glob: %j %A %a %x %u %% are filled in from the job;
 * what the record cannot know (an array task's %j without `raw_id`, %N host, %n %t %s) becomes `*`.
 * Literal parts are glob-escaped so a run name with brackets does not turn into a character class.
 * Returns the glob and whether it has wildcards.
 */
export function expandLogPattern(pattern: string, job: JobInfo): { glob: string; wildcard: boolean } {
  const arrayTask = job.array_task;
  const idText = job.id ?? "";
  const arrayId = job.array_job_id ?? (/^(\d+)_\d+$/.exec(idText)?.[1] ?? undefined);
  const isArray = arrayTask !== undefined || /^\d+_\d+$/.test(idText);
  const { text, unknown } = fillFilenamePattern(
    pattern,
    {
      // An array task's %j is its own raw job id: known only when slurm-poll recorded it.
      j: isArray ? job.raw_id : idText || undefined,
      A: isArray ? arrayId : idText || undefined,
      a: isArray ? (arrayTask !== undefined ? String(arrayTask) : /_(\d+)$/.exec(idText)?.[1]) : NO_ARRAY_TASK,
      x: job.name,
      u: job.user,
    },
    { literal: (t) => fg.escapePath(t), unknown: () => "*" },
  );
  return { glob: text, wildcard: unknown.size > 0 };
}
