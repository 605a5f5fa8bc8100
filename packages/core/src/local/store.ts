import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/**
 * The local backend keeps one "cluster" per user on this machine, as slurmctld does: job files in
 * `<dir>/jobs/<raw id>.json`, written atomically by whoever changes them (sbatch, the detached job
 * runner, scancel). Default dir: $SLURMPIPE_LOCAL_DIR, else $XDG_STATE_HOME/slurmpipe/local.
 */
export interface LocalJob {
  raw_id: number;
  /** As squeue prints it: "12" or "10_2" for array tasks. */
  id: string;
  array_job_id?: number;
  array_task?: number;
  /** Max concurrently running tasks of the array (`--array=0-9%2`). */
  array_throttle?: number;
  name: string;
  script: string;
  cwd: string;
  stdout: string;
  stderr: string;
  time_limit_s: number | null;
  dependency: { type: "afterok" | "afterany" | "afternotok"; id: string }[];
  partition: string;
  user: string;
  submit_time: string;
  state: "PENDING" | "RUNNING" | "COMPLETED" | "FAILED" | "CANCELLED" | "TIMEOUT";
  reason: string;
  start_time?: string;
  end_time?: string;
  exit_code?: number;
  signal?: number;
  pid?: number;
  runner_pid?: number;
  cancel_requested?: boolean;
  restarts: number;
  hold?: boolean;
  max_rss_kb?: number;
  env: Record<string, string>;
}

export function localDir(explicit?: string): string {
  if (explicit) return explicit;
  if (process.env.SLURMPIPE_LOCAL_DIR) return process.env.SLURMPIPE_LOCAL_DIR;
  const base = process.env.XDG_STATE_HOME || join(homedir(), ".local", "state");
  return join(base, "slurmpipe", "local");
}

export function jobsDir(dir: string): string {
  return join(dir, "jobs");
}

export function jobPath(dir: string, rawId: number): string {
  return join(jobsDir(dir), `${rawId}.json`);
}

export function writeJob(dir: string, job: LocalJob): void {
  mkdirSync(jobsDir(dir), { recursive: true });
  const path = jobPath(dir, job.raw_id);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(job));
  renameSync(tmp, path);
}

export function readJob(dir: string, rawId: number): LocalJob | undefined {
  try {
    return JSON.parse(readFileSync(jobPath(dir, rawId), "utf8")) as LocalJob;
  } catch {
    return undefined;
  }
}

export function listJobs(dir: string): LocalJob[] {
  let names: string[];
  try {
    names = readdirSync(jobsDir(dir));
  } catch {
    return [];
  }
  const jobs: LocalJob[] = [];
  for (const n of names) {
    if (!/^\d+\.json$/.test(n)) continue;
    const job = readJob(dir, Number(n.slice(0, -5)));
    if (job) jobs.push(job);
  }
  return jobs.sort((a, b) => a.raw_id - b.raw_id);
}

/** Allocates `count` consecutive job ids under an exclusive lock file. */
export async function allocateIds(dir: string, count: number): Promise<number> {
  mkdirSync(dir, { recursive: true });
  const { default: lockfile } = await import("proper-lockfile");
  const release = await lockfile.lock(dir, { lockfilePath: join(dir, "ids.lock"), realpath: false, stale: 10_000, retries: { retries: 100, minTimeout: 20, maxTimeout: 100 } });
  try {
    const counter = join(dir, "next-id");
    let next = 1;
    try {
      next = Number(readFileSync(counter, "utf8").trim()) || 1;
    } catch {
      // first job on this machine
    }
    writeFileSync(`${counter}.tmp`, String(next + count));
    renameSync(`${counter}.tmp`, counter);
    return next;
  } finally {
    await release();
  }
}

export const TERMINAL_LOCAL = new Set(["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"]);
