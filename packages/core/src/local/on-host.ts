import { type RemoteExecResult, type RemoteOptions, execRemote } from "../remote/ssh.ts";
import { localHostSource } from "./host-source.ts";

/**
 * Bare-box mode: one local-backend command line (sbatch, squeue, sacct, scancel, scontrol) run on
 * HOST through the shared ssh connection. The local backend itself travels on stdin (`node -`,
 * host-entry.ts bundled, ~80 kB), so HOST needs node (>= 20) and nothing of slurmpipe installed;
 * every word of the command line is quoted by execRemote (remoteCommandLine), never part of the
 * script. The job files, the runner and the jobs live on HOST; the answers are the local backend's.
 */
export const NO_NODE_MARK = "slurmpipe-no-node";

// A fixed script: "$@" is the command and its arguments, never spliced into the text.
const ON_HOST_SCRIPT = `command -v node >/dev/null 2>&1 || { echo "${NO_NODE_MARK}: node is not on PATH ($PATH)" >&2; exit 127; }; exec node - "$@"`;

export interface OnHostResult extends RemoteExecResult {
  /** node is missing on HOST: the message to show, naming HOST. */
  missing?: string;
}

/** `cwd`: a directory on HOST (sbatch's: the script's, as slurm-submit runs sbatch there). */
export async function runLocalOnHost(command: string, args: readonly string[], remote: RemoteOptions, call: { cwd?: string; timeoutMs?: number } = {}): Promise<OnHostResult> {
  const name = command.split("/").pop()!;
  const r = await execRemote(["sh", "-c", ON_HOST_SCRIPT, "slurmpipe-local", name, ...args], remote, {
    input: localHostSource(),
    ...(call.cwd !== undefined ? { cwd: call.cwd } : {}),
    ...(call.timeoutMs !== undefined ? { timeoutMs: call.timeoutMs } : {}),
  });
  if (r.exitCode === 127 && r.stderr.includes(NO_NODE_MARK)) {
    const detail = r.stderr.slice(r.stderr.indexOf(NO_NODE_MARK) + NO_NODE_MARK.length + 2).trim();
    return { ...r, missing: `--remote ${remote.host}: ${detail}; --backend local --remote runs the local backend and its jobs on ${remote.host} with node >= 20 there: install node on ${remote.host} (on the PATH of a non-interactive ssh session), or use --backend slurm` };
  }
  if (r.exitCode === 127 && /too old for the local backend/.test(r.stderr)) {
    return { ...r, missing: `--remote ${remote.host}: ${r.stderr.trim().replace(/^slurmpipe: /, "")}` };
  }
  return r;
}
