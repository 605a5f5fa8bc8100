import { readdir, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { nameMatcher } from "./name-match.ts";
import { NO_ARRAY_TASK, type PatternLetter, type RunRecord, fillFilenamePattern } from "@slurmpipe/core";

/**
 * Resolves sbatch `--output`/`--error` filename patterns (slurm-facts.md §6.2) to the files a job
 * wrote: %j job id, %A array job id, %a task id, %x job name, %u user, %N node, %n node index,
 * %t task, %s step, %J jobid.step, %% a percent; `%4j` zero-pads; a `\\` turns substitution off.
 *
 * The trap: for an array task %j is the task's RAW job id (task 129_2 of array 129 ran as job 131),
 * which only Slurm knows. `job.raw_id` is used when the record has it; otherwise the file name is
 * matched in the directory with %j as any number when the pattern also has %a or %A (unique per
 * task), and as a last resort two guesses are tried: base + task (what this Slurm assigns when the
 * tasks start together) and the base id (the last task keeps it). A guessed path is marked.
 * A placeholder that cannot be filled (no job yet, unknown node) never throws: it is matched as a
 * wildcard, and with no match the file is reported missing.
 */
export interface ResolvedPath {
  path: string;
  /** How it was found: exact expansion, a directory match, or a guess. */
  how: "exact" | "matched" | "guessed" | "unresolved";
  note?: string;
}

export interface PatternContext {
  user?: string;
  baseDir?: string;
}

type Vars = Partial<Record<PatternLetter, string>>;


interface Expanded {
  text?: string; // every token known
  regex: RegExp; // unknown tokens as wildcards
  unknown: Set<PatternLetter>;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function expandPattern(pattern: string, vars: Vars): Expanded {
  const { text, unknown } = fillFilenamePattern(pattern, vars);
  const regex = fillFilenamePattern(pattern, vars, {
    literal: escapeRe,
    unknown: (letter) => (/[jAant]/.test(letter) ? "\\d+" : "[^/]*"),
  }).text;
  return { ...(unknown.size === 0 ? { text } : {}), regex: new RegExp(`^${regex}$`), unknown };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** Files in `dir` whose name matches; newest first. Bounded: large directories are read once, partially. */
async function matchInDir(dir: string, matches: (name: string) => boolean, limit = 20_000): Promise<string[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).slice(0, limit);
  } catch {
    return [];
  }
  const hits = names.filter(matches).map((n) => join(dir, n));
  const withTime = await Promise.all(hits.map(async (p) => ({ p, t: await stat(p).then((s) => (s.isFile() ? s.mtimeMs : -1), () => -1) })));
  return withTime.filter((x) => x.t >= 0).sort((a, b) => b.t - a.t).map((x) => x.p);
}

export function jobVars(record: Partial<RunRecord>, ctx: PatternContext): { vars: Vars; arrayGuesses: string[] } {
  const job = record.job as (RunRecord["job"] & { raw_id?: string; user?: string }) | undefined;
  const vars: Vars = { n: "0", t: "0", s: "batch" };
  const user = job?.user ?? ctx.user;
  if (user) vars.u = user;
  if (job?.name) vars.x = job.name;
  const node = record.state?.node_list;
  if (node && /^[\w.-]+$/.test(node)) vars.N = node.split(".")[0]!;
  const arrayGuesses: string[] = [];
  if (job?.id) {
    const m = /^(\d+)(?:_(\d+))?/.exec(job.id);
    const base = job.array_job_id ?? (m?.[2] !== undefined ? m[1] : undefined);
    const task = job.array_task ?? (m?.[2] !== undefined ? Number(m[2]) : undefined);
    if (base !== undefined && task !== undefined) {
      vars.A = base;
      vars.a = String(task);
      if (job.raw_id) vars.j = job.raw_id;
      else arrayGuesses.push(String(Number(base) + task), base);
    } else if (m) {
      vars.j = m[1]!;
      vars.A = m[1]!;
      vars.a = NO_ARRAY_TASK;
    }
    if (vars.j) vars.J = `${vars.j}.batch`;
  }
  return { vars, arrayGuesses };
}

export async function resolveLogPath(pattern: string, record: Partial<RunRecord>, ctx: PatternContext = {}): Promise<ResolvedPath> {
  const base = ctx.baseDir ?? process.cwd();
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const { vars, arrayGuesses } = jobVars(record, ctx);
  const e = expandPattern(pattern, vars);
  if (e.text !== undefined) return { path: abs(e.text), how: "exact" };

  // Fill what a directory listing can tell: only the file-name part may hold unknown tokens.
  const dirPattern = dirname(pattern);
  const dir = expandPattern(dirPattern, vars);
  const fallback = abs(pattern);
  if (dir.text === undefined) return { path: fallback, how: "unresolved", note: `cannot fill ${[...e.unknown].map((k) => `%${k}`).join(" ")} in the directory part of ${pattern}` };
  // Not expandPattern's regex: it backtracks polynomially in the number of unknown tokens.
  const matches = nameMatcher(basename(pattern), vars);
  const distinct = vars.a !== undefined && /%\d*[aA]/.test(basename(pattern));
  const onlyJ = e.unknown.size === 1 && e.unknown.has("j");
  if (!onlyJ || distinct) {
    const hits = await matchInDir(abs(dir.text), matches);
    if (hits.length > 0) {
      const note = hits.length > 1 ? `${hits.length} files match ${pattern}; using the newest` : undefined;
      return { path: hits[0]!, how: "matched", ...(note ? { note } : {}) };
    }
  }
  if (onlyJ && arrayGuesses.length > 0) {
    for (const j of arrayGuesses) {
      const t = expandPattern(pattern, { ...vars, j, J: `${j}.batch` }).text!;
      if (await exists(abs(t))) return { path: abs(t), how: "guessed", note: `array task's raw job id unknown (no job.raw_id): guessed %j=${j}` };
    }
  }
  return { path: fallback, how: "unresolved", note: `cannot fill ${[...e.unknown].map((k) => `%${k}`).join(" ")} in ${pattern}` };
}

/** Slurm's defaults when a record has a job but no log patterns. */
export function defaultPatterns(record: Partial<RunRecord>): { stdout: string } {
  const isArray = record.job?.array_task !== undefined || /_\d+$/.test(record.job?.id ?? "");
  return { stdout: isArray ? "slurm-%A_%a.out" : "slurm-%j.out" };
}
