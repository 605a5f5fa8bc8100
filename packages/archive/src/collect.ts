import { stat } from "node:fs/promises";
import { userInfo } from "node:os";
import { basename, isAbsolute, resolve } from "node:path";
import type { RunRecord } from "@slurmpipe/core";
import fg from "fast-glob";
import { inside, safeComponent } from "./layout.ts";
import { expandLogPattern } from "./logs.ts";
import { type Role, classify } from "./roles.ts";

/** One run to archive: a run record, or a plain directory given on the command line. */
export interface RunInput {
  record: RunRecord;
  /** `runs/<name>` (or `files` for loose files): where its files go inside the archive. */
  prefix: string;
  /** Loose files given as paths (no run directory). */
  files?: string[];
}

/** One source file and where it goes. */
export interface Candidate {
  source: string;
  path: string;
  run_id?: string;
  run_name?: string;
  role: Role;
  size: number;
  mtimeMs: number;
  mode: number;
  /** Matched by one of the run's declared `outputs`. */
  declared: boolean;
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
  const user = options.user ?? safeUser();

  for (const run of runs) {
    const r = run.record;
    const who = { run_id: r.id, name: r.name };
    const add = async (source: string, path: string, declared: boolean, role?: Role) => {
      const abs = resolve(source);
      if (seenSources.has(`${run.prefix}\0${abs}`)) return;
      let st: Awaited<ReturnType<typeof stat>>;
      try {
        st = await stat(abs);
      } catch (e) {
        problems.push({ ...who, problem: "unreadable", severity: "error", path: abs, message: `${abs}: ${(e as Error).message}` });
        return;
      }
      if (!st.isFile()) return;
      const other = claimed.get(path);
      if (other !== undefined && other !== abs) {
        problems.push({ ...who, problem: "path_clash", severity: "error", path, message: `${abs} and ${other} would both be stored as ${path}` });
        return;
      }
      claimed.set(path, abs);
      seenSources.add(`${run.prefix}\0${abs}`);
      files.push({
        source: abs,
        path,
        ...(run.files ? {} : { run_id: r.id, run_name: r.name }),
        role: role ?? classify(path),
        size: st.size,
        mtimeMs: Math.floor(st.mtimeMs),
        mode: st.mode,
        declared,
      });
    };

    if (run.files) {
      for (const f of run.files) await add(f, `${run.prefix}/${safeComponent(basename(f))}`, false);
      continue;
    }

    const dir = r.dir ? resolve(r.dir) : undefined;
    const declared = new Set<string>();
    if (dir) {
      const dirOk = await stat(dir).then((s) => s.isDirectory(), () => false);
      if (!dirOk) {
        problems.push({ ...who, problem: "missing_dir", severity: "error", path: dir, message: `run directory ${dir} does not exist` });
      } else {
        for (const pattern of r.outputs ?? []) {
          const matches = await fg(pattern, { cwd: dir, onlyFiles: true, dot: true, absolute: true });
          if (matches.length === 0) {
            problems.push({ ...who, problem: "missing_output", severity: "error", pattern, message: `${r.name}: no file matches declared output ${pattern} in ${dir}` });
          }
          for (const m of matches) declared.add(resolve(m));
        }
        const all = options.outputsOnly
          ? [...declared]
          : await fg("**", { cwd: dir, onlyFiles: true, dot: true, absolute: true, ignore: options.exclude, followSymbolicLinks: false });
        for (const f of all.map((p) => resolve(p)).sort()) {
          const rel = inside(dir, f);
          if (rel !== undefined) await add(f, `${run.prefix}/${rel}`, declared.has(f));
        }
      }
    } else {
      problems.push({ ...who, problem: "no_dir", severity: "warning", message: `${r.name}: record has no "dir"; only its logs and script are archived` });
    }

    // Slurm logs may live outside the run directory (logs/%x-%j.out next to the sweep).
    const job = { id: r.job?.id, name: r.job?.name, array_job_id: r.job?.array_job_id, array_task: r.job?.array_task, user };
    for (const stream of ["stdout", "stderr"] as const) {
      const pattern = r.logs?.[stream];
      if (!pattern) continue;
      const abs = isAbsolute(pattern) ? pattern : resolve(options.logBase, pattern);
      const { glob } = expandLogPattern(abs, job);
      const matches = (await fg(glob, { onlyFiles: true, dot: true, absolute: true })).sort();
      if (matches.length === 0) {
        problems.push({ ...who, problem: "missing_log", severity: "warning", pattern, message: `${r.name}: no ${stream} log matches ${pattern}` });
      }
      for (const m of matches) {
        const rel = dir ? inside(dir, m) : undefined;
        await add(m, rel !== undefined ? `${run.prefix}/${rel}` : `${run.prefix}/_logs/${safeComponent(basename(m))}`, false, "log");
      }
    }
    const script = r.script?.path;
    if (script) {
      const abs = resolve(script);
      const rel = dir ? inside(dir, abs) : undefined;
      if (await stat(abs).then((s) => s.isFile(), () => false)) {
        await add(abs, rel !== undefined ? `${run.prefix}/${rel}` : `${run.prefix}/_slurm/${safeComponent(basename(abs))}`, false, "script");
      }
    }
  }
  return { files, problems };
}

function safeUser(): string | undefined {
  try {
    return process.env.USER ?? userInfo().username;
  } catch {
    return undefined;
  }
}
