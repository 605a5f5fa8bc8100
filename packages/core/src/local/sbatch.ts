import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import { isAbsolute, resolve } from "node:path";
import { NO_ARRAY_TASK, fillFilenamePattern } from "../slurm/filename-pattern.ts";
import { expandTaskSpec } from "../slurm/jobid.ts";
import { parseDuration } from "../slurm/units.ts";
import { ArgError, type ParsedArgs, last, parseArgs } from "./args.ts";
import { parseSignal, requestedMemory } from "./sbatch-options.ts";
import { jobRunnerSource } from "./job-runner.ts";
import { exportedEnvironment } from "./export.ts";
import { type LocalJob, PRIVATE_FILE_MODE, allocateIds, currentBootId, enqueueJob, ensurePrivateDir, jobsDir, listJobs, writeJob } from "./store.ts";
import type { LocalResult } from "./types.ts";

const SBATCH_SPEC = {
  values: {
    "job-name": "J", output: "o", error: "e", time: "t", array: "a", dependency: "d", chdir: "D", partition: "p",
    "cpus-per-task": "c", nodes: "N", ntasks: "n", "ntasks-per-node": undefined, mem: undefined, "mem-per-cpu": undefined,
    "mem-per-gpu": undefined, gpus: "G", "gpus-per-node": undefined, "gpus-per-task": undefined, "cpus-per-gpu": undefined,
    gres: undefined, account: "A", qos: "q", constraint: "C", exclude: "x", nodelist: "w", signal: undefined,
    "open-mode": undefined, "mail-type": undefined, "mail-user": undefined, export: undefined, comment: undefined,
    wckey: undefined, "kill-on-invalid-dep": undefined, begin: "b", nice: undefined, deadline: undefined,
    distribution: "m", hint: undefined, clusters: "M", wrap: undefined, input: "i", "tasks-per-node": undefined,
    licenses: "L", reservation: undefined, "time-min": undefined, "exclusive": undefined,
  },
  flags: { parsable: undefined, "test-only": undefined, hold: "H", requeue: undefined, "no-requeue": undefined, quiet: "Q", verbose: "v", overcommit: "O", "no-kill": "k", contiguous: undefined },
};

const MAX_ARRAY_SIZE = 1001;

/** The #SBATCH options of a script, parsed by Slurm's rules (slurm-facts.md §7.1). */
export function scriptDirectives(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split("\n").slice(1)) {
    const line = raw.replace(/\r$/, "");
    if (/^\s*$/.test(line)) continue;
    if (!line.trimStart().startsWith("#")) break; // first command ends the directives
    const m = /^#SBATCH\s+(.*)$/.exec(line);
    if (!m) continue;
    out.push(...splitDirective(m[1]!));
  }
  return out;
}

/** Words of a directive line: quotes group, an unquoted # starts a comment. */
function splitDirective(text: string): string[] {
  const words: string[] = [];
  let cur = "";
  let quote: string | null = null;
  let any = false;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      any = true;
    } else if (ch === "#") {
      break;
    } else if (/\s/.test(ch)) {
      if (cur || any) words.push(cur);
      cur = "";
      any = false;
    } else {
      cur += ch;
      any = true;
    }
  }
  if (cur || any) words.push(cur);
  return words;
}

/** Expands sbatch filename patterns (slurm-facts.md §6.2). */
export function expandPattern(pattern: string, job: { raw_id: number; array_job_id?: number; array_task?: number; name: string; user: string }): string {
  return fillFilenamePattern(pattern, {
    A: String(job.array_job_id ?? job.raw_id),
    a: job.array_task !== undefined ? String(job.array_task) : NO_ARRAY_TASK,
    j: String(job.raw_id),
    J: `${job.raw_id}.batch`,
    x: job.name,
    u: job.user,
    N: hostname().split(".")[0]!,
    n: "0",
    t: "0",
    s: "batch",
    b: String((job.array_task ?? 0) % 10),
  }).text;
}

interface Dependency {
  type: "afterok" | "afterany" | "afternotok";
  id: string;
}

function parseDependency(text: string): Dependency[] {
  const deps: Dependency[] = [];
  for (const part of text.split(",")) {
    const [type, ...ids] = part.split(":");
    if (type !== "afterok" && type !== "afterany" && type !== "afternotok") throw new ArgError("Batch job submission failed: Job dependency problem");
    if (ids.length === 0 || ids.some((id) => !/^\d+(_\d+)?$/.test(id))) throw new ArgError("Batch job submission failed: Job dependency problem");
    for (const id of ids) deps.push({ type, id });
  }
  return deps;
}

export async function localSbatch(argv: readonly string[], opts: { dir: string; cwd: string; maxParallel?: number; env?: Record<string, string | undefined> }): Promise<LocalResult> {
  let cli: ParsedArgs;
  try {
    cli = parseArgs(argv, SBATCH_SPEC, true);
  } catch (e) {
    return { stdout: "", stderr: `sbatch: ${(e as Error).message}\nTry "sbatch --help" for more information\n`, exitCode: 255 };
  }
  const wrap = last(cli, "wrap");
  const [scriptArg] = cli.positional;
  let scriptPath: string;
  let text: string;
  if (wrap !== undefined) {
    text = `#!/bin/sh\n# This script was created by sbatch --wrap.\n\n${wrap}\n`;
    scriptPath = "";
  } else {
    if (!scriptArg) return fail("sbatch: error: no batch script given (the local backend does not read scripts from stdin)", 1);
    scriptPath = resolve(opts.cwd, scriptArg);
    if (!existsSync(scriptPath)) return fail(`sbatch: error: Unable to open file ${scriptArg}`, 1);
    text = readFileSync(scriptPath, "utf8");
  }
  if (!text.startsWith("#!")) {
    return fail("sbatch: error: This does not look like a batch script.  The first\nsbatch: error: line must start with #! followed by the path to an interpreter.\nsbatch: error: For instance: #!/bin/sh", 1);
  }
  let fromScript: ParsedArgs;
  try {
    fromScript = parseArgs(scriptDirectives(text), SBATCH_SPEC);
  } catch (e) {
    return fail(`sbatch: error: Invalid directive found in batch script: ${(e as Error).message}`, 255);
  }
  // Command line wins over #SBATCH lines.
  const get = (name: string) => last(cli, name) ?? last(fromScript, name);
  const flag = (name: string) => cli.flags.has(name) || fromScript.flags.has(name);

  const timeText = get("time");
  const limit = timeText === undefined ? null : parseDuration(timeText);
  if (limit === undefined) return fail("sbatch: error: Invalid --time specification", 255);
  let tasks: number[] | undefined;
  let throttle: number | undefined;
  const arrayText = get("array");
  if (arrayText !== undefined) {
    try {
      const spec = expandTaskSpec(arrayText, MAX_ARRAY_SIZE);
      if (!spec.tasks || spec.tasks.length === 0 || spec.tasks.some((t) => t >= MAX_ARRAY_SIZE)) throw new Error();
      tasks = spec.tasks;
      throttle = spec.throttle;
    } catch {
      return fail("sbatch: error: Batch job submission failed: Invalid job array specification", 1);
    }
  }
  let dependency: Dependency[] = [];
  const depText = get("dependency");
  if (depText) {
    try {
      dependency = parseDependency(depText);
    } catch (e) {
      return fail(`sbatch: error: ${(e as Error).message}`, 1);
    }
  }
  let memory: { mb: number; perCpuMb?: number } | undefined;
  try {
    memory = requestedMemory(cli, fromScript);
  } catch (e) {
    return fail(`sbatch: error: ${(e as Error).message}`, 255);
  }
  const warnSignal = parseSignal(get("signal"));
  if (warnSignal === null) return fail("sbatch: error: Invalid --signal specification", 255);
  const counts: { ntasks?: number; cpus_per_task?: number } = {};
  for (const [option, key] of [["ntasks", "ntasks"], ["cpus-per-task", "cpus_per_task"]] as const) {
    const text = get(option);
    if (text === undefined) continue;
    if (!/^[1-9]\d*$/.test(text)) return fail(`sbatch: error: Invalid numeric value "${text}" for --${option}.`, 255);
    counts[key] = Number(text);
  }
  const name = (get("job-name") ?? (scriptArg ? scriptArg.split("/").pop()! : "wrap")).slice(0, 1024);
  const partition = get("partition") ?? "debug";
  const cwd = resolve(opts.cwd, get("chdir") ?? ".");
  const user = safeUser();

  if (cli.flags.has("test-only")) {
    const start = new Date().toISOString().slice(0, 19);
    return { stdout: "", stderr: `sbatch: Job ${nextIdHint(opts.dir)} to start at ${start} using 1 processors on nodes ${hostname().split(".")[0]} in partition ${partition}\n`, exitCode: 0 };
  }

  if (!scriptPath) {
    // --wrap: keep the generated script beside the job files, as slurmctld keeps a copy.
    // Private like the job files: a wrapped command line may hold a secret.
    const { writeFileSync } = await import("node:fs");
    ensurePrivateDir(`${opts.dir}/scripts`);
    scriptPath = `${opts.dir}/scripts/wrap-${process.pid}-${Date.now()}.sh`;
    writeFileSync(scriptPath, text, { mode: PRIVATE_FILE_MODE });
  }
  const count = tasks?.length ?? 1;
  const first = await allocateIds(opts.dir, count);
  const submitTime = new Date().toISOString();
  let env: Record<string, string>;
  try {
    env = exportedEnvironment(get("export"), opts.env ?? process.env);
  } catch (e) {
    return fail(`sbatch: error: ${(e as Error).message}`, 1);
  }
  // Once per sbatch, not per job file: an array of 100,000 tasks writes 100,000 of them.
  ensurePrivateDir(jobsDir(opts.dir));
  const bootId = currentBootId();
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    const raw = first + i;
    const base = { raw_id: raw, name, user, ...(tasks ? { array_job_id: first, array_task: tasks[i]! } : {}) };
    const defaultOut = tasks ? "slurm-%A_%a.out" : "slurm-%j.out";
    const outPattern = get("output") ?? defaultOut;
    const stdout = resolveIn(cwd, expandPattern(outPattern, base));
    const stderr = resolveIn(cwd, expandPattern(get("error") ?? outPattern, base));
    const job: LocalJob = {
      ...base,
      id: tasks ? `${first}_${tasks[i]}` : String(raw),
      ...(throttle ? { array_throttle: throttle } : {}),
      script: scriptPath,
      cwd,
      stdout,
      stderr,
      time_limit_s: limit,
      dependency,
      partition,
      user,
      submit_time: submitTime,
      state: "PENDING",
      reason: dependency.length ? "Dependency" : "None",
      restarts: 0,
      env,
      ...(bootId ? { boot_id: bootId } : {}),
      ...(flag("hold") ? { hold: true } : {}),
      ...counts,
      ...(warnSignal ? { warn_signal: warnSignal } : {}),
      ...(flag("no-requeue") && !cli.flags.has("requeue") ? { no_requeue: true } : {}),
      ...(memory ? { mem_mb: memory.mb, ...(memory.perCpuMb !== undefined ? { mem_per_cpu_mb: memory.perCpuMb } : {}) } : {}),
    };
    writeJob(opts.dir, job);
    ids.push(raw);
  }
  const runner = spawn(process.execPath, ["--input-type=module", "-e", jobRunnerSource(), opts.dir, ids.join(","), String(opts.maxParallel ?? "")], {
    detached: true,
    stdio: "ignore",
    cwd,
  });
  runner.unref();
  // Jobs that can start at once enter the start queue now, in id order, before this sbatch returns:
  // a later sbatch's runner must not overtake them while this runner is still starting up.
  if (runner.pid !== undefined && !flag("hold") && dependency.length === 0) {
    const eligible = throttle ? Math.min(throttle, count) : count;
    for (let i = 0; i < eligible; i++) enqueueJob(opts.dir, first + i, runner.pid);
  }
  return { stdout: cli.flags.has("parsable") ? `${first}\n` : `Submitted batch job ${first}\n`, stderr: "", exitCode: 0 };
}

function resolveIn(cwd: string, p: string): string {
  return isAbsolute(p) ? p : resolve(cwd, p);
}

function fail(stderr: string, exitCode: number): LocalResult {
  return { stdout: "", stderr: `${stderr}\n`, exitCode };
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? "user");
  }
}

function nextIdHint(dir: string): number {
  const jobs = listJobs(dir);
  return (jobs[jobs.length - 1]?.raw_id ?? 0) + 1;
}

