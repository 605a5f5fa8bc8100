import { type ArgError, type ParsedArgs, last, parseArgs } from "./args.ts";
import { withJobLock } from "./job-lock.ts";
import { TERMINAL_LOCAL, currentBootId, dequeueJob, jobPath, listJobs, lostToReboot, readJob, writeJob } from "./store.ts";
import type { LocalResult } from "./types.ts";

/** scancel: like Slurm, silent success on unknown or finished ids (slurm-facts.md §5.1). */
export function localScancel(argv: readonly string[], dir: string): LocalResult {
  let args: ParsedArgs;
  try {
    args = parseArgs(argv, { values: { name: "n", user: "u", signal: "s", partition: "p", state: "t" }, flags: { verbose: "v", quiet: "Q", batch: "b", full: "f" } });
  } catch (e) {
    return { stdout: "", stderr: `scancel: ${(e as ArgError).message}\n`, exitCode: 1 };
  }
  const names = last(args, "name")?.split(",");
  const bootId = currentBootId();
  for (const id of args.positional) {
    if (!/^\d+(_\d+)?$/.test(id)) return { stdout: "", stderr: `scancel: error: Invalid job id ${id}\n`, exitCode: 1 };
  }
  for (const job of listJobs(dir)) {
    const byId = args.positional.some((id) => (id.includes("_") ? job.id === id : String(job.raw_id) === id || String(job.array_job_id) === id));
    const byName = names?.includes(job.name) ?? false;
    if (!(byId || byName) || TERMINAL_LOCAL.has(job.state)) continue;
    // Under the job's lock: its runner writes the same file (a reason update must not undo the cancel).
    const fresh = withJobLock(jobPath(dir, job.raw_id), () => {
      const current = readJob(dir, job.raw_id) ?? job;
      if (TERMINAL_LOCAL.has(current.state)) return undefined; // ended meanwhile
      current.cancel_requested = true;
      // PENDING, or lost to a reboot (no runner is left to record the end): cancelled at once.
      if (current.state === "PENDING" || lostToReboot(current, bootId) !== undefined) {
        current.state = "CANCELLED";
        current.end_time = new Date().toISOString();
      }
      // Record the request BEFORE signalling, so the runner sees it when the job exits.
      writeJob(dir, current);
      return current;
    });
    if (!fresh) continue;
    const pid = fresh.state === "RUNNING" ? fresh.pid : undefined;
    if (fresh.state === "CANCELLED") dequeueJob(dir, fresh.raw_id); // no longer waits to start
    if (pid) {
      try {
        process.kill(-pid, "SIGTERM");
      } catch {
        // already gone; the runner records the end
      }
    }
  }
  return { stdout: "", stderr: "", exitCode: 0 };
}

/** scontrol: `show config` (what slurmpipe reads: MaxArraySize) and `show job`. */
export function localScontrol(argv: readonly string[], dir: string): LocalResult {
  const words = argv.filter((a) => !a.startsWith("-"));
  if (words[0] === "show" && words[1] === "config") {
    const lines = [
      "Configuration data as of local backend",
      "ClusterName             = local",
      "MaxArraySize            = 1001",
      "MinJobAge               = 300 sec",
      "KillWait                = 5 sec",
    ];
    return { stdout: `${lines.join("\n")}\n`, stderr: "", exitCode: 0 };
  }
  if (words[0] === "show" && words[1] === "job" && words[2]) {
    const job = listJobs(dir).find((j) => String(j.raw_id) === words[2] || j.id === words[2]);
    if (!job) return { stdout: "", stderr: "slurm_load_jobs error: Invalid job id specified\n", exitCode: 1 };
    const out = `JobId=${job.raw_id} JobName=${job.name} JobState=${job.state} Reason=${job.reason} Restarts=${job.restarts} ExitCode=${job.exit_code ?? 0}:${job.signal ?? 0} StdOut=${job.stdout} StdErr=${job.stderr} WorkDir=${job.cwd} Command=${job.script}\n`;
    return { stdout: out, stderr: "", exitCode: 0 };
  }
  return { stdout: "", stderr: `scontrol: the local backend supports only 'show config' and 'show job'\n`, exitCode: 1 };
}

export function localSinfo(): LocalResult {
  return { stdout: "idle\n", stderr: "", exitCode: 0 };
}
