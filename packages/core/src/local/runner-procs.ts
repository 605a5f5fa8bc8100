/**
 * The processes of a running job (its batch shell's process group), read from /proc: their memory,
 * and signals for all but the batch shell. Node builtins only: bundled into the runner's text.
 */
import fs from "node:fs";

/** Pids in process group `pgid`. */
function groupMembers(pgid: number): number[] {
  const pids: number[] = [];
  for (const pid of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = fs.readFileSync("/proc/" + pid + "/stat", "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid) pids.push(Number(pid));
    } catch {}
  }
  return pids;
}

/** Resident memory of the whole group, in KiB. */
export function rssKb(pgid: number): number {
  let total = 0;
  for (const pid of groupMembers(pgid)) {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync("/proc/" + pid + "/status", "utf8"));
      if (m) total += Number(m[1]);
    } catch {}
  }
  return total;
}

/**
 * `--signal=SIG@T` without `B:`: Slurm signals the job's steps, not the batch shell. Here every
 * process of the job but the batch shell (whose pid is the group's id) gets it.
 */
export function signalAllButShell(pgid: number, signal: NodeJS.Signals): void {
  for (const pid of groupMembers(pgid)) {
    if (pid === pgid) continue;
    try {
      process.kill(pid, signal);
    } catch {}
  }
}
