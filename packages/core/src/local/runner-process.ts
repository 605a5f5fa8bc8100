/**
 * The detached process that runs the jobs of one local `sbatch` call (all tasks of an array),
 * started as `node --input-type=module -e <this file, bundled> <dir> <ids> <maxParallel>` (see
 * job-runner.ts for how the text is made). It imports node builtins only (and types, which vanish),
 * so it works the same from the standalone bundle and from tests, and outlives the submitting
 * shell (detached, own session). It plays slurmd + the scheduler for its jobs: waits for
 * dependencies and a free slot (at most <maxParallel> jobs of this machine run at once, array
 * throttle honoured), runs the script with Slurm's environment (runner-env.ts) and the job-side
 * srun/scontrol/module first on PATH (step-shims.ts), enforces the time limit (SIGTERM, then
 * SIGKILL after KillWait = 5 s, state TIMEOUT) and sends `--signal` warnings before it, honours
 * scancel and `scontrol requeue` (the same id runs again, Restarts + 1), and records the outcome.
 * The start queue and slots are runner-queue.ts.
 *
 * This module exports nothing: evaluating it IS the runner. Nothing imports it as a module.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { jobEnvironment } from "./runner-env.ts";
import { withJobLock } from "./job-lock.ts";
import { runnerQueue } from "./runner-queue.ts";
import { rssKb, signalAllButShell } from "./runner-procs.ts";
import { installShims, requeueMarker, stepsDir } from "./step-shims.ts";
import type { LocalJob } from "./store.ts";

// argv: node <dir> <ids, comma-separated> <maxParallel, may be empty> (`-e` leaves no script path)
const dir = process.argv[1]!;
const ids = process.argv[2]!.split(",").map(Number);
const maxText = process.argv[3];
const maxParallel = Math.max(1, Number(maxText) || os.cpus().length);
const host = os.hostname().split(".")[0]!;
const KILL_WAIT_MS = 5000;
const jobFile = (id: number) => path.join(dir, "jobs", id + ".json");
const { enqueue, dequeue, liveQueue, freeSlots, tryAcquireSlot, entryName } = runnerQueue(dir, maxParallel);
// srun, scontrol and module for the job's PATH (step-shims.ts), rewritten when this version differs.
const shims = installShims(dir);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const now = () => new Date().toISOString();
const read = (id: number): LocalJob | undefined => {
  try {
    return JSON.parse(fs.readFileSync(jobFile(id), "utf8")) as LocalJob;
  } catch {
    return undefined;
  }
};
const TERMINAL = new Set<string>(["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"]);
// As store.ts writeJob: 0600, and an ended job's environment is not kept.
const write = (job: LocalJob) => {
  const p = jobFile(job.raw_id);
  const t = p + "." + process.pid + ".tmp";
  if (TERMINAL.has(job.state)) delete job.env;
  fs.writeFileSync(t, JSON.stringify(job), { mode: 0o600 });
  fs.renameSync(t, p);
};
// Under the job's lock: scancel writes the same file (job-lock.ts).
const update = (id: number, patch: Partial<LocalJob>): LocalJob | undefined =>
  withJobLock(jobFile(id), () => {
    const j = read(id);
    if (!j) return undefined;
    Object.assign(j, patch);
    write(j);
    return j;
  });
const slurmTime = (d = new Date()) => {
  const p = (n: number) => String(n).padStart(2, "0");
  return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T" + p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
};

const requeueLine = (id: number) => "slurmstepd: error: *** JOB " + id + " ON " + host + " CANCELLED AT " + slurmTime() + " DUE TO JOB REQUEUE ***\n";

function findDep(depId: string): LocalJob[] {
  // "12" may name a plain job or every task of array 12; "12_3" one task.
  const all = fs
    .readdirSync(path.join(dir, "jobs"))
    .filter((n) => /^\d+\.json$/.test(n))
    .map((n) => read(Number(n.slice(0, -5))))
    .filter((j): j is LocalJob => Boolean(j));
  const m = /^(\d+)(?:_(\d+))?$/.exec(depId);
  if (!m) return [];
  if (m[2] !== undefined) return all.filter((j) => j.array_job_id === Number(m[1]) && j.array_task === Number(m[2]));
  return all.filter((j) => j.raw_id === Number(m[1]) || j.array_job_id === Number(m[1]));
}

/** "ok" | "wait" | "never" for a job's dependency list (afterok / afterany / afternotok). */
function dependencyStatus(job: LocalJob): "ok" | "wait" | "never" {
  for (const dep of job.dependency || []) {
    const jobs = findDep(dep.id);
    if (jobs.length === 0) continue; // unknown id: Slurm treats it as satisfied
    for (const d of jobs) {
      if (!TERMINAL.has(d.state)) return "wait";
      const ok = d.state === "COMPLETED";
      if (dep.type === "afterok" && !ok) return "never";
      if (dep.type === "afternotok" && ok) return "never";
    }
  }
  return "ok";
}

interface Running {
  child: ChildProcess;
  slot: string;
  timedOut: boolean;
  maxRssKb: number;
  killTimer: NodeJS.Timeout | undefined;
  cancelAt?: number;
  /** When `scontrol requeue` asked for this run to end (the job then goes back to PENDING). */
  requeueAt?: number;
}
const running = new Map<number, Running>(); // raw id -> { child, slot }

function start(job: LocalJob, slot: string): void {
  const outDir = path.dirname(job.stdout);
  const errDir = path.dirname(job.stderr);
  if (!fs.existsSync(outDir) || !fs.existsSync(errDir)) {
    // As slurmd: no output directory -> the job fails to launch (exit 0:53) and writes nothing.
    update(job.raw_id, { state: "FAILED", reason: "JobLaunchFailure", start_time: now(), end_time: now(), exit_code: 0, signal: 53 });
    fs.unlinkSync(slot);
    return;
  }
  // A run starts with no steps and no requeue request of a run before it.
  fs.rmSync(stepsDir(dir, job.raw_id), { recursive: true, force: true });
  fs.rmSync(requeueMarker(dir, job.raw_id), { force: true });
  const env = jobEnvironment(job, { dir, host, shims });
  const out = fs.openSync(job.stdout, "a");
  const err = job.stderr === job.stdout ? out : fs.openSync(job.stderr, "a");
  const child = spawn("/bin/bash", [job.script], { cwd: job.cwd, env, stdio: ["ignore", out, err], detached: true });
  fs.closeSync(out);
  if (err !== out) fs.closeSync(err);
  const entry: Running = { child, slot, timedOut: false, maxRssKb: 0, killTimer: undefined };
  running.set(job.raw_id, entry);
  update(job.raw_id, { state: "RUNNING", reason: "None", start_time: now(), pid: child.pid, runner_pid: process.pid });
  const kill = (sig: NodeJS.Signals) => {
    try {
      process.kill(-(child.pid as number), sig);
    } catch {}
  };
  if (job.time_limit_s) {
    setTimeout(() => {
      if (running.get(job.raw_id) !== entry) return; // ended (or a requeued run of it started since)
      entry.timedOut = true;
      fs.appendFileSync(job.stderr, "slurmstepd: error: *** JOB " + job.raw_id + " ON " + host + " CANCELLED AT " + slurmTime() + " DUE TO TIME LIMIT ***\n");
      kill("SIGTERM");
      entry.killTimer = setTimeout(() => kill("SIGKILL"), KILL_WAIT_MS);
    }, job.time_limit_s * 1000).unref();
    const warn = job.warn_signal;
    if (warn) {
      // --signal=[B:]SIG@T: T seconds before the limit, to the batch shell (B:) or to everything but it.
      setTimeout(() => {
        if (running.get(job.raw_id) !== entry) return; // ended (or a requeued run of it started since)
        if (warn.batch) {
          try {
            process.kill(child.pid as number, warn.signal as NodeJS.Signals);
          } catch {}
        } else signalAllButShell(child.pid as number, warn.signal as NodeJS.Signals);
      }, Math.max(0, job.time_limit_s - warn.seconds) * 1000).unref();
    }
  }
  child.on("exit", (code, signal) => {
    clearTimeout(entry.killTimer);
    running.delete(job.raw_id);
    try {
      fs.unlinkSync(slot);
    } catch {}
    const current = read(job.raw_id) || job;
    const patch: Partial<LocalJob> = { end_time: now(), pid: undefined, max_rss_kb: entry.maxRssKb || undefined };
    const sig = signal ? os.constants.signals[signal] || 0 : 0;
    const requeued = !current.cancel_requested && fs.existsSync(requeueMarker(dir, job.raw_id));
    if (requeued) {
      // scontrol requeue: the same id back to PENDING, Restarts + 1, the script from the top (slurm-facts §5.3).
      fs.rmSync(requeueMarker(dir, job.raw_id), { force: true });
      if (!entry.requeueAt) fs.appendFileSync(job.stderr, requeueLine(job.raw_id));
      // A requeue resets Submit, as slurmctld does (slurm-facts §4.6): slurm-poll counts restarts by it.
      Object.assign(patch, { state: "PENDING", reason: "None", restarts: (current.restarts || 0) + 1, submit_time: new Date().toISOString(), start_time: undefined, end_time: undefined, exit_code: undefined, signal: undefined });
    } else if (entry.timedOut) Object.assign(patch, { state: "TIMEOUT", reason: "TimeLimit", exit_code: 0, signal: 0 });
    else if (current.cancel_requested) Object.assign(patch, { state: "CANCELLED", reason: "None", exit_code: 0, signal: sig || 15 });
    else if (code === 0) Object.assign(patch, { state: "COMPLETED", reason: "None", exit_code: 0, signal: 0 });
    else Object.assign(patch, { state: "FAILED", reason: signal ? "JobLaunchFailure" : "NonZeroExitCode", exit_code: code ?? 0, signal: sig });
    update(job.raw_id, patch);
  });
}

for (;;) {
  let open = 0;
  let queue: string[] | undefined; // live queue entries and free slots, read at most once per pass (again after a start)
  let free = 0;
  for (const id of ids) {
    const job = read(id);
    if (!job || TERMINAL.has(job.state)) continue;
    open++;
    const entry = running.get(id);
    if (entry) {
      const pid = entry.child.pid as number;
      entry.maxRssKb = Math.max(entry.maxRssKb, rssKb(pid));
      if (!entry.requeueAt && !job.cancel_requested && fs.existsSync(requeueMarker(dir, id))) {
        // As slurmctld on `scontrol requeue`: the run is ended (KillWait applies), then queued again.
        entry.requeueAt = Date.now();
        fs.appendFileSync(job.stderr, requeueLine(id));
        try {
          process.kill(-pid, "SIGTERM");
        } catch {}
      } else if (entry.requeueAt && Date.now() - entry.requeueAt > KILL_WAIT_MS) {
        try {
          process.kill(-pid, "SIGKILL");
        } catch {}
      }
      if (job.cancel_requested && !entry.cancelAt) {
        entry.cancelAt = Date.now();
        try {
          process.kill(-pid, "SIGTERM");
        } catch {}
      } else if (entry.cancelAt && Date.now() - entry.cancelAt > KILL_WAIT_MS) {
        try {
          process.kill(-pid, "SIGKILL");
        } catch {}
      }
      continue;
    }
    if (job.state !== "PENDING") {
      dequeue(id);
      continue;
    }
    if (job.cancel_requested) {
      dequeue(id);
      update(id, { state: "CANCELLED", reason: "None", end_time: now() });
      continue;
    }
    if (job.hold) {
      dequeue(id);
      continue;
    }
    const deps = dependencyStatus(job);
    if (deps === "never") {
      // As Slurm 22.05 without kill_invalid_depend (slurm-facts.md §7.4): the job stays PENDING for
      // good, reason DependencyNeverSatisfied, until someone cancels it (scancel needs no runner for a
      // pending job). It can never start, so it no longer keeps this runner alive.
      dequeue(id);
      if (job.reason !== "DependencyNeverSatisfied") update(id, { reason: "DependencyNeverSatisfied" });
      open--;
      continue;
    }
    if (deps === "wait") {
      dequeue(id);
      if (job.reason !== "Dependency") update(id, { reason: "Dependency" });
      continue;
    }
    if (job.array_throttle) {
      const siblings = ids.map(read).filter((j) => j && j.state === "RUNNING");
      if (siblings.length >= job.array_throttle) {
        dequeue(id);
        if (job.reason !== "JobArrayTaskLimit") update(id, { reason: "JobArrayTaskLimit" });
        continue;
      }
    }
    // Eligible: wait in the FIFO; start only while fewer live entries are ahead than slots are free.
    enqueue(id);
    if (queue === undefined) {
      queue = liveQueue();
      free = freeSlots();
    }
    let ahead = queue.indexOf(entryName(id));
    if (ahead === -1) {
      // entered after this pass read the queue
      queue = liveQueue();
      ahead = queue.indexOf(entryName(id));
    }
    if (ahead === -1 || ahead >= free) {
      const why = ahead > 0 ? "Priority" : "Resources";
      if (job.reason !== why) update(id, { reason: why });
      continue;
    }
    const slot = tryAcquireSlot();
    if (!slot) {
      if (job.reason !== "Resources") update(id, { reason: "Resources" });
      continue;
    }
    const fresh = read(id);
    if (fresh?.state !== "PENDING" || fresh.cancel_requested) {
      fs.unlinkSync(slot);
      dequeue(id);
      continue;
    }
    start(fresh, slot);
    // The entry goes only after the slot is taken, so nobody behind it sees a free slot twice.
    dequeue(id);
    queue = undefined;
  }
  if (open === 0 && running.size === 0) break;
  await sleep(running.size > 0 ? 250 : 400);
}
