import { lstat, realpath, stat } from "node:fs/promises";
import { userInfo } from "node:os";
import { basename, isAbsolute, resolve } from "node:path";
import type { RunRecord } from "@slurmpipe/core";
import fg from "fast-glob";
import type { Attempt } from "./attempts.ts";
import { inside, safeComponent } from "./layout.ts";
import { expandLogPattern } from "./logs.ts";
import { type Role, classify } from "./roles.ts";
import { inspectSource } from "./sources.ts";

/** One run to archive: a run record, or a plain directory given on the command line. */
export interface RunInput {
  record: RunRecord;
  /** `runs/<name>` (or `files` for loose files): where its files go inside the archive. */
  prefix: string;
  /** Loose files given as paths (no run directory). */
  files?: string[];
  /** Every attempt known (oldest first), when the run went through slurm-submit: each one's logs are archived. */
  attempts?: Attempt[];
}

/** One source file and where it goes. */
export interface Candidate {
  source: string;
  /** What is read: `source`, or the file a symlink inside the run directory points to. */
  readFrom: string;
  path: string;
  run_id?: string;
  run_name?: string;
  role: Role;
  size: number;
  mtimeMs: number;
  mode: number;
  /** Matched by one of the run's declared `outputs`. */
  declared: boolean;
  /** A log: the attempt (and its job) that wrote it. */
  attempt?: number;
  job_id?: string;
}

export interface CollectOptions {
  /** Archive only declared outputs, logs and the script, not the whole run directory. */
  outputsOnly: boolean;
  /** Globs relative to each run directory to leave out. */
  exclude: string[];
  /** Directory relative log patterns are resolved against. */
  logBase: string;
  user?: string;
}

export interface Problem {
  run_id?: string;
  name?: string;
  problem: string;
  severity: "error" | "warning";
  message: string;
  pattern?: string;
  path?: string;
  attempt?: number;
  job_id?: string;
}

/** Gives each run a unique `runs/<name>` prefix (names are sanitised; a clash gets the id appended). */
export function assignPrefixes(records: RunRecord[]): RunInput[] {
  const used = new Set<string>();
  return records.map((record) => {
    let name = safeComponent(record.name);
    if (used.has(name)) name = `${name}-${safeComponent(record.id).slice(0, 12)}`;
    for (let i = 2; used.has(name); i++) name = `${safeComponent(record.name)}-${i}`;
    used.add(name);
    return { record, prefix: `runs/${name}` };
  });
}

/** Finds every file of every run: its directory (or declared outputs), its Slurm logs, its script. */
export async function collectFiles(runs: RunInput[], options: CollectOptions): Promise<{ files: Candidate[]; problems: Problem[] }> {
  const files: Candidate[] = [];
  const problems: Problem[] = [];
  const claimed = new Map<string, string>(); // archive path -> source
  const seenSources = new Set<string>();
  const added = new Map<string, Candidate>(); // run prefix + source -> its candidate
  const user = options.user ?? safeUser();

  for (const run of runs) {
    const r = run.record;
    const who = { run_id: r.id, name: r.name };
    const dir = r.dir ? resolve(r.dir) : undefined;
    const realDir = dir ? await realpath(dir).catch(() => undefined) : undefined;
    /** `named`: the record or the user asked for this path (see inspectSource). */
    /** The file's candidate (also when an earlier call added it), or undefined when it is not archived. */
    const add = async (source: string, path: string, declared: boolean, named: boolean, role?: Role): Promise<Candidate | undefined> => {
      const abs = resolve(source);
      const key = `${run.prefix}\0${abs}`;
      if (seenSources.has(key)) return added.get(key);
      seenSources.add(key);
      const found = await inspectSource(abs, realDir, { named: named || declared, inRun: dir !== undefined && inside(dir, abs) !== undefined });
      if (found.kind === "skip") return;
      if (found.kind === "problem") {
        problems.push({ ...who, problem: found.problem, severity: found.severity, path: abs, message: found.message });
        return;
      }
      const st = found.stats;
      const other = claimed.get(path);
      if (other !== undefined && other !== abs) {
        problems.push({ ...who, problem: "path_clash", severity: "error", path, message: `${abs} and ${other} would both be stored as ${path}` });
        return;
      }
      claimed.set(path, abs);
      const candidate: Candidate = {
        source: abs,
        readFrom: found.readFrom,
        path,
        ...(run.files ? {} : { run_id: r.id, run_name: r.name }),
        role: role ?? classify(path),
        size: st.size,
        mtimeMs: Math.floor(st.mtimeMs),
        mode: st.mode,
        declared,
      };
      files.push(candidate);
      added.set(key, candidate);
      return candidate;
    };

    if (run.files) {
      for (const f of run.files) await add(f, `${run.prefix}/${safeComponent(basename(f))}`, false, true);
      continue;
    }

    // Slurm logs, in the run directory or outside it (logs/%x-%j.out next to the sweep). Every
    // attempt's logs, the latest first (a file two attempts share is the latest's), before the
    // run directory's walk, so a log in the run directory is stored by attempt, not twice.
    const attempts: (Attempt | { attempt?: undefined; record: RunRecord })[] = run.attempts ? [...run.attempts].reverse() : [{ record: r }];
    for (const a of attempts) {
      const ar = a.record;
      const job: NonNullable<RunRecord["job"]> | Record<string, never> = ar.job ?? {};
      const tag = a.attempt === undefined ? {} : { attempt: a.attempt, ...(job.id ? { job_id: job.id } : {}) };
      const label = a.attempt === undefined ? "" : ` of attempt ${a.attempt}${job.id ? ` (job ${job.id})` : ""}`;
      const logCtx = { user, nodeList: ar.state?.node_list };
      for (const stream of ["stdout", "stderr"] as const) {
        const pattern = ar.logs?.[stream] ?? r.logs?.[stream];
        if (!pattern) continue;
        const abs = isAbsolute(pattern) ? pattern : resolve(options.logBase, pattern);
        const { glob } = expandLogPattern(abs, job, logCtx);
        // Links and FIFOs are matched too, and then refused by name (inspectSource), not silently missed.
        const matches = (await fg(glob, { onlyFiles: false, markDirectories: true, dot: true, absolute: true })).filter((m) => !m.endsWith("/")).sort();
        if (matches.length === 0) {
          problems.push({ ...who, ...tag, problem: "missing_log", severity: "warning", pattern, message: `${r.name}: no ${stream} log${label} matches ${pattern}` });
        }
        for (const m of matches) {
          const c = await add(m, logPath(run.prefix, dir, m, a.attempt), false, true, "log");
          if (!c || a.attempt === undefined) continue;
          if (c.attempt !== undefined && c.attempt !== a.attempt) {
            problems.push({ ...who, ...tag, problem: "shared_log", severity: "warning", path: m, message: `${r.name}: the ${stream} log${label} is ${m}, which attempt ${c.attempt} wrote too: archived once, as attempt ${c.attempt}'s` });
            continue;
          }
          Object.assign(c, tag);
        }
      }
    }
    const declared = new Set<string>();
    if (dir) {
      const dirOk = await stat(dir).then((s) => s.isDirectory(), () => false);
      if (!dirOk) {
        problems.push({ ...who, problem: "missing_dir", severity: "error", path: dir, message: `run directory ${dir} does not exist` });
      } else {
        for (const pattern of r.outputs ?? []) {
          // Not only files: a declared output that is a FIFO or a link is reported as such, not as missing.
          const matches = (await fg(pattern, { cwd: dir, onlyFiles: false, markDirectories: true, dot: true, absolute: true })).filter((m) => !m.endsWith("/"));
          if (matches.length === 0) {
            problems.push({ ...who, problem: "missing_output", severity: "error", pattern, message: `${r.name}: no file matches declared output ${pattern} in ${dir}` });
          }
          for (const m of matches) declared.add(resolve(m));
        }
        // Links, FIFOs, sockets and devices too (not only files), so each is decided and reported.
        // Declared outputs are added to the walk: one reached through a directory link is checked, not lost.
        const walked = options.outputsOnly
          ? []
          : (await fg("**", { cwd: dir, onlyFiles: false, markDirectories: true, dot: true, absolute: true, ignore: options.exclude, followSymbolicLinks: false })).filter((p) => !p.endsWith("/"));
        const all = new Set([...walked.map((p) => resolve(p)), ...declared]);
        for (const f of [...all].sort()) {
          const rel = inside(dir, f);
          if (rel !== undefined) await add(f, `${run.prefix}/${rel}`, declared.has(f), false);
        }
      }
    } else {
      problems.push({ ...who, problem: "no_dir", severity: "warning", message: `${r.name}: record has no "dir"; only its logs and script are archived` });
    }

    // The run's script, and an earlier attempt's when it was another file (each attempt rendered anew).
    const scripts = [{ path: r.script?.path, attempt: undefined as number | undefined }];
    for (const a of run.attempts ?? []) if (a.record.script?.path && resolve(a.record.script.path) !== resolve(r.script?.path ?? "")) scripts.push({ path: a.record.script.path, attempt: a.attempt });
    for (const { path: script, attempt } of scripts) {
      if (!script) continue;
      const abs = resolve(script);
      const rel = dir ? inside(dir, abs) : undefined;
      const into = attempt === undefined ? "_slurm" : `_slurm/attempt-${attempt}`;
      // A script that no longer exists is not an error (it was rendered elsewhere); anything else there is checked.
      if (await lstat(abs).then(() => true, () => false)) {
        const c = await add(abs, rel !== undefined ? `${run.prefix}/${rel}` : `${run.prefix}/${into}/${safeComponent(basename(abs))}`, false, true, "script");
        if (c && attempt !== undefined) c.attempt ??= attempt;
      }
    }
  }
  return { files, problems };
}

/**
 * Where a log goes in the archive: at its place in the run directory, or under `_logs/` when it
 * is outside; a log of a known attempt in an `attempt-N/` directory there
 * (`runs/x/logs/attempt-2/201.out`, `runs/x/_logs/attempt-2/x-201.out`).
 */
export function logPath(prefix: string, dir: string | undefined, file: string, attempt: number | undefined): string {
  const rel = dir ? inside(dir, file) : undefined;
  const [parent, name] = rel !== undefined ? [`${prefix}/${rel}`.replace(/\/[^/]*$/, ""), rel.split("/").pop()!] : [`${prefix}/_logs`, safeComponent(basename(file))];
  return attempt === undefined ? `${parent}/${name}` : `${parent}/attempt-${attempt}/${name}`;
}

function safeUser(): string | undefined {
  try {
    return process.env.USER ?? userInfo().username;
  } catch {
    return undefined;
  }
}
