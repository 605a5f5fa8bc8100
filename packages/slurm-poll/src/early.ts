import { open } from "node:fs/promises";
import { userInfo } from "node:os";
import { dirname, isAbsolute, resolve } from "node:path";
import { NO_ARRAY_TASK, type RunRecord, fillFilenamePattern } from "@slurmpipe/core";
import type { Track } from "./track.ts";

/**
 * `--early`: a job that fails in its first minutes almost always hit an environment or path
 * problem, and its stderr says which. We find the file from the record's `logs` pattern the way
 * sbatch expands it (slurm-facts.md §6.2) and keep its last lines.
 */

export interface PatternValues {
  /** %j: the raw job id (an array task's own id once it started). */
  jobId: string;
  /** %A: the array job id (= %j outside arrays). */
  arrayJobId?: string;
  /** %a */
  arrayTask?: number;
  /** %x */
  jobName?: string;
  /** %u */
  user?: string;
}

/** Expands sbatch's filename pattern (core's grammar): what the job does not say stays as written. */
export function expandLogPattern(pattern: string, v: PatternValues): string {
  return fillFilenamePattern(pattern, {
    j: v.jobId,
    A: v.arrayJobId ?? v.jobId,
    a: v.arrayTask !== undefined ? String(v.arrayTask) : NO_ARRAY_TASK,
    x: v.jobName,
    u: v.user ?? userInfo().username,
  }).text;
}

/** The stderr file of a job: `logs.stderr`, else `logs.stdout` (sbatch writes both there), else slurm-%j.out. */
export function stderrPath(record: RunRecord, track: Track, cwd: string): string {
  const pattern = record.logs?.stderr ?? record.logs?.stdout ?? (track.arrayTask !== undefined ? "slurm-%A_%a.out" : "slurm-%j.out");
  const values: PatternValues = { jobId: track.rawId ?? track.key };
  if (track.arrayJobId !== undefined) values.arrayJobId = track.arrayJobId;
  if (track.arrayTask !== undefined) values.arrayTask = track.arrayTask;
  const jobName = record.job?.name;
  if (jobName) values.jobName = jobName;
  const path = expandLogPattern(pattern, values);
  if (isAbsolute(path)) return path;
  // sbatch resolves relative paths against the directory it ran in: slurm-submit runs it in the script's.
  const base = record.script?.path ? dirname(resolve(cwd, record.script.path)) : record.dir ? resolve(cwd, record.dir) : cwd;
  return resolve(base, path);
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
