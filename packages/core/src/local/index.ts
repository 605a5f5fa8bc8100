import { cpus } from "node:os";
import { localScancel, localScontrol, localSinfo } from "./control.ts";
import { localSacct } from "./sacct.ts";
import { localSbatch } from "./sbatch.ts";
import { localSqueue } from "./squeue.ts";
import { localDir } from "./store.ts";
import type { LocalResult } from "./types.ts";

export { REBOOT_LOST_REASON, localDir } from "./store.ts";
export type { LocalJob } from "./store.ts";
export type { LocalResult } from "./types.ts";

export interface LocalOptions {
  dir?: string;
  cwd?: string;
  /** Jobs run at most this many at a time on this machine (default: number of cores). */
  maxParallel?: number;
  env?: Record<string, string | undefined>;
}

/**
 * The local backend: answers sbatch / squeue / sacct / scancel / scontrol / sinfo command lines
 * with the output formats of Slurm 22.05, running the jobs on this machine. Commands choose it
 * with `--backend local`; nothing else in them changes.
 */
export async function runLocalSlurm(command: string, args: readonly string[], options: LocalOptions = {}): Promise<LocalResult> {
  const dir = localDir(options.dir);
  const cwd = options.cwd ?? process.cwd();
  const name = command.split("/").pop();
  switch (name) {
    case "sbatch":
      return localSbatch(args, { dir, cwd, maxParallel: options.maxParallel ?? (Number(process.env.SLURMPIPE_LOCAL_MAX_PARALLEL) || cpus().length), ...(options.env ? { env: options.env } : {}) });
    case "squeue":
      return localSqueue(args, dir);
    case "sacct":
      return localSacct(args, dir);
    case "scancel":
      return localScancel(args, dir);
    case "scontrol":
      return localScontrol(args, dir);
    case "sinfo":
      return localSinfo();
    default:
      return { stdout: "", stderr: `${name}: not available in the local backend\n`, exitCode: 127 };
  }
}
