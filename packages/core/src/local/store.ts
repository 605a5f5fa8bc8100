import { chmodSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { homedir, hostname } from "node:os";
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
  /** Memory requested per node in MB (`--mem`, or `--mem-per-cpu` x CPUs): SLURM_MEM_PER_NODE, sacct ReqMem. */
  mem_mb?: number;
  /** `--mem-per-cpu` in MB, when that is how memory was asked for (SLURM_MEM_PER_CPU, squeue %m). */
  mem_per_cpu_mb?: number;
  /** `--ntasks` / `--cpus-per-task` when asked for: SLURM_NTASKS (srun's default task count), SLURM_CPUS_PER_TASK. */
  ntasks?: number;
  cpus_per_task?: number;
  /** `--signal=[B:]SIG@T`: SIG sent T seconds before the time limit, to the batch shell only when `batch`. */
  warn_signal?: { signal: string; seconds: number; batch: boolean };
  /** `--no-requeue`: `scontrol requeue` is refused. */
  no_requeue?: boolean;
  /** The environment the job runs with; absent once the job has ended. */
  env?: Record<string, string>;
  /**
   * /proc/sys/kernel/random/boot_id at submission. A job not ended whose machine has another boot
   * id now was lost to a reboot (its runner and processes are gone): see lostToReboot.
   */
  boot_id?: string;
}

/** This machine's boot id (Linux; undefined elsewhere: no reboot detection there). */
export function currentBootId(): string | undefined {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The reason sacct prints (and squeue's absence implies) for a job lost to a reboot of its machine.
 * slurm-poll reads this prefix: such a job is UNKNOWN and lost, not FAILED (nothing says how its
 * script ended), and a watch stops waiting for it. Real Slurm never prints it.
 */
export const REBOOT_LOST_REASON = "BootIdChanged";

/** Why a job that has not ended was lost to a reboot (boot id at submission != now), else undefined. */
export function lostToReboot(job: LocalJob, bootId: string | undefined): string | undefined {
  if (!job.boot_id || !bootId || job.boot_id === bootId || TERMINAL_LOCAL.has(job.state)) return undefined;
  const host = hostname().split(".")[0]!;
  return `${REBOOT_LOST_REASON}: ${host} rebooted after the job was submitted (boot id ${job.boot_id} at submission, ${bootId} now): the job's processes are gone, how its script ended is unknown`;
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

/**
 * A job file holds the submitting shell's environment (tokens, keys), as slurmctld's state does:
 * like Slurm's, it is readable by its owner only. Job files and wrapped scripts are 0600 in 0700
 * directories, and the environment is dropped once the job has ended (nothing runs it again).
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Creates `path` as 0700, or narrows it to 0700 when this user owns it and it is wider. */
export function ensurePrivateDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: PRIVATE_DIR_MODE });
  const st = statSync(path);
  if ((st.mode & 0o077) !== 0 && st.uid === process.getuid?.()) chmodSync(path, PRIVATE_DIR_MODE);
}

/** Writes a job file (0600). sbatch has made `jobs/` private (ensurePrivateDir) before its first. */
export function writeJob(dir: string, job: LocalJob): void {
  mkdirSync(jobsDir(dir), { recursive: true, mode: PRIVATE_DIR_MODE });
  const path = jobPath(dir, job.raw_id);
  const tmp = `${path}.${process.pid}.tmp`;
  const kept = TERMINAL_LOCAL.has(job.state) ? { ...job, env: undefined } : job;
  writeFileSync(tmp, JSON.stringify(kept), { mode: PRIVATE_FILE_MODE });
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
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
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

/**
 * The FIFO of eligible waiting jobs (shared by every job runner of this machine):
 * `<dir>/queue/<raw id zero-padded to 12>` holding the pid of the runner that waits to start the
 * job. A runner starts a job only while fewer live entries are ahead of it than slots are free, so
 * jobs start in submission order across sbatch calls. runner-process.ts reads and writes the same
 * names (it imports node builtins only, so it keeps its own copy of the naming).
 */
export function queueEntryPath(dir: string, rawId: number): string {
  return join(dir, "queue", String(rawId).padStart(12, "0"));
}

/** Puts a job in the queue for the runner `pid` (sbatch does it at submission, before the runner's first look). */
export function enqueueJob(dir: string, rawId: number, pid: number): void {
  const path = queueEntryPath(dir, rawId);
  mkdirSync(join(dir, "queue"), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, String(pid));
  renameSync(tmp, path);
}

export function dequeueJob(dir: string, rawId: number): void {
  try {
    unlinkSync(queueEntryPath(dir, rawId));
  } catch {
    // not queued
  }
}
