import { open } from "node:fs/promises";
import { userInfo } from "node:os";
import { dirname, resolve } from "node:path";
import { type LogJob, type RunRecord, defaultLogPattern, expandLogPath } from "@slurmpipe/core";
import type { Track } from "./track.ts";

/**
 * `--early`: a job that fails in its first minutes almost always hit an environment or path
 * problem, and its stderr says which. We find the file from the record's `logs` pattern the way
 * sbatch expands it (core's log-paths rules, slurm-facts.md §6.2) and keep its last lines.
 */

/** The job a track and its record describe: `%j` is the track's raw id once the task started. */
function trackJob(record: RunRecord, track: Track): LogJob {
  const job: LogJob = { id: track.key };
  if (track.arrayJobId !== undefined) job.array_job_id = track.arrayJobId;
  if (track.arrayTask !== undefined) job.array_task = track.arrayTask;
  if (track.rawId !== undefined) job.raw_id = track.rawId;
  const known = record.job as (RunRecord["job"] & { user?: string }) | undefined;
  if (known?.name) job.name = known.name;
  if (known?.user) job.user = known.user;
  return job;
}

/**
 * The stderr file of a job: `logs.stderr`, else `logs.stdout` (sbatch writes both there), else
 * Slurm's default. A letter the record cannot fill (an array task's `%j` before its raw id is
 * known) stays as written, so the path is reported unreadable rather than guessed.
 */
export function stderrPath(record: RunRecord, track: Track, cwd: string): string {
  const job = trackJob(record, track);
  const pattern = record.logs?.stderr ?? record.logs?.stdout ?? defaultLogPattern(job);
  // sbatch resolves relative paths against the directory it ran in: slurm-submit runs it in the script's.
  const baseDir = record.script?.path ? dirname(resolve(cwd, record.script.path)) : record.dir ? resolve(cwd, record.dir) : cwd;
  return expandLogPath(pattern, job, { user: userInfo().username, nodeList: record.state?.node_list ?? track.state?.node_list, baseDir }).text;
}

/** The last `lines` lines of a file, reading at most its last 64 KiB. */
export async function tailFile(path: string, lines = 20): Promise<string[]> {
  const fh = await open(path, "r");
  try {
    const { size } = await fh.stat();
    const length = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, size - length);
    const text = buf.toString("utf8").replace(/\r/g, "");
    const all = text.split("\n");
    if (all.at(-1) === "") all.pop();
    if (length < size) all.shift(); // the first line is probably cut
    return all.slice(-lines);
  } finally {
    await fh.close();
  }
}
