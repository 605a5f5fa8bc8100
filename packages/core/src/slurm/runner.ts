import { join } from "node:path";
import { loadExeca } from "../lazy-execa.ts";
import { runLocalSlurm } from "../local/index.ts";
import { runLocalOnHost } from "../local/on-host.ts";
import { type RemoteOptions, execRemote, isSshConnectionFailure } from "../remote/ssh.ts";

/**
 * One runner for every Slurm client command: argv arrays only (never a shell string), a timeout,
 * bounded retries with jittered exponential backoff on transient failures, none on permanent ones.
 */
export type SlurmFailureKind = "transient" | "permanent" | "qos_limit" | "not_found" | "other";

const TRANSIENT = [
  /Socket timed out on send\/recv operation/i,
  /Unable to contact slurm controller/i,
  /Resource temporarily unavailable/i,
  /slurm_persist_conn_open_without_init/i,
  /Connection refused/i,
  /Slurm temporarily unable to accept job/i,
  /Unable to create job record, try again/i,
  /Slurm job queue full/i,
  /Problem talking to the database/i,
  /Transport endpoint is not connected/i,
  /Zero Bytes were transmitted or received/i,
  /^\(ssh\) Connection lost to /m,
];

const QOS_LIMIT = [/Job violates accounting\/QOS policy/i, /QOSMax\w+Limit/, /AssocMax\w+Limit/, /QOSGrp\w+/];

const PERMANENT = [
  /invalid partition/i,
  /Invalid account or account\/partition combination/i,
  /Invalid qos specification/i,
  /Invalid wckey specification/i,
  /Invalid generic resource/i,
  /Invalid feature specification/i,
  /Requested node configuration is not available/i,
  /Memory specification can not be satisfied/i,
  /Requested time limit is invalid/i,
  /Invalid job array specification/i,
  /Job dependency problem/i,
  /Pathname of a file, directory or other parameter too long/i,
  /Invalid --\w+ specification/i,
  /unrecognized option/i,
  /Invalid directive found in batch script/i,
  /This does not look like a batch script/i,
  /Unable to open file/i,
];

const NOT_FOUND = [/Invalid job id specified/i];

/** Classifies a failed Slurm command by its message (exact strings: slurm-facts.md §2.2, §3.3, §4.5). */
export function classifySlurmError(stderr: string): SlurmFailureKind {
  if (QOS_LIMIT.some((r) => r.test(stderr))) return "qos_limit";
  if (TRANSIENT.some((r) => r.test(stderr))) return "transient";
  if (NOT_FOUND.some((r) => r.test(stderr))) return "not_found";
  if (PERMANENT.some((r) => r.test(stderr))) return "permanent";
  return "other";
}

export class SlurmCommandError extends Error {
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly kind: SlurmFailureKind | "timeout" | "missing",
    readonly exitCode: number | undefined,
    readonly stdout: string,
    readonly stderr: string,
    readonly attempts: number,
  ) {
    const detail = stderr.trim().split("\n").slice(-3).join(" | ") || `exit code ${exitCode}`;
    super(`${command} failed (${kind}) after ${attempts} attempt(s): ${detail}`);
    this.name = "SlurmCommandError";
  }
}

export interface SlurmRunOptions {
  /**
   * "slurm" (default) runs the real client commands. "local" runs the embedded local backend,
   * which answers the same sbatch/squeue/sacct/scancel command lines with the same output
   * formats, running the scripts on this machine (no Slurm needed).
   */
  backend?: "slurm" | "local";
  /** Directory of the local backend's jobs (default $SLURMPIPE_LOCAL_DIR, else ~/.local/state/slurmpipe/local). */
  localStateDir?: string;
  /** Local backend: how many jobs may run at once on this machine (default: cores). */
  localMaxParallel?: number;
  /** Directory holding the Slurm binaries; default: $SLURMPIPE_SLURM_BIN, else PATH. */
  binDir?: string;
  cwd?: string;
  /** Per attempt, ms. Slurm's own MessageTimeout is 10 s; give it room. Default 60 s. */
  timeoutMs?: number;
  /** Total attempts for transient failures (1 = no retry). Default 4. */
  attempts?: number;
  /** First backoff in ms; doubles each retry, half of it random (backoffDelay). Default 1000. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Retry transient failures? (sbatch callers reconcile first and pass false.) Default true. */
  retry?: boolean;
  env?: Record<string, string | undefined>;
  /**
   * Run on this host over one multiplexed ssh connection (`--remote`). With backend "local"
   * (bare-box mode) the local backend and its jobs run on that host (local/on-host.ts). A lost or
   * hung connection is a transient failure (retried; sbatch callers reconcile by the job-name tag).
   */
  remote?: RemoteOptions;
  /** Called before each retry, e.g. to log. */
  onRetry?: (info: { attempt: number; delayMs: number; error: SlurmCommandError }) => void;
  /** Injected for tests. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface SlurmResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  attempts: number;
}

/**
 * Environment variables that change what squeue/sacct/sbatch print or do; a wrapper must clear
 * them (slurm-facts.md §3.1, §7.1) and pin the time format.
 */
const OUTPUT_ENV = /^(SBATCH_|SQUEUE_|SACCT_|SLURM_TIME_FORMAT$|SLURM_BITSTR_LEN$|SINFO_)/;

function slurmEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) if (!OUTPUT_ENV.test(k)) env[k] = v;
  env.SLURM_TIME_FORMAT = "standard";
  env.SLURM_BITSTR_LEN = "0";
  return { ...env, ...extra };
}

function resolveSlurmCommand(command: string, binDir?: string): string {
  const dir = binDir ?? process.env.SLURMPIPE_SLURM_BIN;
  return dir ? join(dir, command) : command;
}

interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number | undefined;
  timedOut: boolean;
  missing: boolean;
  /** What to say when `missing` (default: Slurm's client commands are not found). */
  missingMessage?: string;
}

async function execOnce(command: string, file: string, args: readonly string[], options: SlurmRunOptions): Promise<ExecResult> {
  if (options.backend === "local" && options.remote) {
    // Bare-box mode: the local backend runs on HOST (on-host.ts); a lost connection is transient, as below.
    const r = await runLocalOnHost(command, args, options.remote, { ...(options.cwd ? { cwd: options.cwd } : {}), timeoutMs: options.timeoutMs ?? 60_000 });
    const connection = isSshConnectionFailure(r.exitCode, r.stderr);
    return {
      ...r,
      stderr: connection ? `${r.stderr}\n(ssh) Connection lost to ${options.remote.host}` : r.missing ?? r.stderr,
      missing: r.missing !== undefined,
      ...(r.missing !== undefined ? { missingMessage: r.missing } : {}),
    };
  }
  if (options.backend === "local") {
    const r = await runLocalSlurm(command, args, {
      ...(options.localStateDir ? { dir: options.localStateDir } : {}),
      ...(options.cwd ? { cwd: options.cwd } : {}),
      ...(options.localMaxParallel ? { maxParallel: options.localMaxParallel } : {}),
    });
    return { ...r, timedOut: false, missing: false };
  }
  if (options.remote) {
    const r = await execRemote([file, ...args], options.remote, {
      ...(options.cwd ? { cwd: options.cwd } : {}),
      env: { SLURM_TIME_FORMAT: "standard", SLURM_BITSTR_LEN: "0" },
      timeoutMs: options.timeoutMs ?? 60_000,
    });
    const connection = isSshConnectionFailure(r.exitCode, r.stderr);
    return {
      ...r,
      // ssh's words are not Slurm's: mark them so the classifier sees a transient failure.
      stderr: connection ? `${r.stderr}\n(ssh) Connection lost to ${options.remote.host}` : r.stderr,
      missing: r.exitCode === 127 && /not found/i.test(r.stderr),
    };
  }
  const result = await (await loadExeca())(file, [...args], {
    cwd: options.cwd,
    timeout: options.timeoutMs ?? 60_000,
    reject: false,
    stdin: "ignore",
    env: slurmEnv(options.env),
    extendEnv: false,
    encoding: "utf8",
    stripFinalNewline: false,
  });
  return {
    stdout: String(result.stdout ?? ""),
    stderr: String(result.stderr ?? ""),
    exitCode: result.exitCode,
    timedOut: Boolean(result.timedOut),
    missing: (result as { code?: string }).code === "ENOENT" || (result.exitCode === undefined && /ENOENT/.test(String(result.message ?? ""))),
  };
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runSlurm(command: string, args: readonly string[], options: SlurmRunOptions = {}): Promise<SlurmResult> {
  const attempts = options.retry === false ? 1 : Math.max(1, options.attempts ?? 4);
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  // Remote: $SLURMPIPE_SLURM_BIN names a directory of this machine, not of the remote host.
  const file = options.remote && options.backend !== "local" ? (options.binDir ? join(options.binDir, command) : command) : resolveSlurmCommand(command, options.binDir);
  let last: SlurmCommandError | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const result = await execOnce(command, file, args, options);
    const { stdout, stderr } = result;
    if (result.exitCode === 0 && !result.timedOut) return { stdout, stderr, exitCode: 0, attempts: attempt };
    if (result.missing) {
      throw new SlurmCommandError(command, args, "missing", undefined, "", result.missingMessage ?? `${file}: command not found (is Slurm installed? set SLURMPIPE_SLURM_BIN, or use --backend local to run jobs on this machine)`, attempt);
    }
    const kind = result.timedOut ? "timeout" : classifySlurmError(stderr);
    last = new SlurmCommandError(command, args, kind, result.exitCode, stdout, stderr, attempt);
    const retryable = kind === "transient" || kind === "timeout";
    if (!retryable || attempt === attempts) throw last;
    const delayMs = backoffDelay(attempt, options.backoffMs ?? 1000, options.maxBackoffMs ?? 30_000, random);
    options.onRetry?.({ attempt, delayMs, error: last });
    await sleep(delayMs);
  }
  throw last!;
}

/**
 * The one retry backoff (Slurm calls here, sbatch retries, confirmations and in-flight checks in
 * slurm-submit): "equal jitter" exponential backoff, attempt 1 -> [base/2, base], doubling, capped
 * at maxMs. Half the delay is random so that many cron-started watchers that failed together do
 * not retry together; half is fixed so that a retry never comes at once.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(cap / 2 + random() * (cap / 2));
}

/** The Slurm-client options every command accepts and passes to runSlurm unchanged. */
export type SlurmClientOptions = Pick<SlurmRunOptions, "backend" | "localStateDir" | "localMaxParallel" | "binDir" | "timeoutMs" | "attempts" | "backoffMs" | "remote">;
