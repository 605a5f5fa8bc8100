import { opendir, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { NO_ARRAY_TASK, type PatternLetter, fillFilenamePattern } from "./filename-pattern.ts";

/**
 * A run's log files: record -> the values of sbatch's filename-pattern letters (slurm-facts.md
 * §6.2, grammar in filename-pattern.ts) -> an exact path, a glob, or the file found on disk. The
 * one home of these rules for every command (log-parse reads the logs, slurm-poll tails stderr for
 * `--early`, archive packs them).
 *
 * The values, as sbatch has them for the batch step:
 * - plain job: `%j` and `%A` the job id (its leading number), `%a` 4294967294 (NO_VAL), `%J` `<j>.batch`;
 * - array task (`job.array_job_id` + `job.array_task`, or an id `129_2`): `%A` the array job id,
 *   `%a` the task, and `%j` the task's RAW id, which only Slurm knows: `job.raw_id` when the record
 *   has it, else unknown (`%J` too), with two guesses kept for the caller (base + task, what this
 *   Slurm assigns when the tasks start together, then the base id, which the last task keeps);
 * - `%x` `job.name`, `%u` `job.user` else the caller's user, `%N` the short host name when
 *   `state.node_list` is one node, `%n` and `%t` 0, `%s` batch;
 * - anything else (`%b`, `%N` of a multi-node or unknown list) is unknown: each caller decides
 *   what an unknown becomes (left as written, a glob `*`, a wildcard matched against a directory).
 */

export type LogPatternValues = Partial<Record<PatternLetter, string>>;

/** What a record says about the job that wrote the logs (a `RunRecord["job"]` fits). */
export interface LogJob {
  /** As Slurm prints it: "1234", or "1234_7" for an array task. */
  id?: string | undefined;
  name?: string | undefined;
  array_job_id?: string | undefined;
  array_task?: number | undefined;
  /** An array task's own raw job id once it ran (slurm-poll records it): its `%j`. */
  raw_id?: string | undefined;
  user?: string | undefined;
}

export interface LogPathContext {
  /** `%u` when the job does not say (`job.user` wins). */
  user?: string | undefined;
  /** The record's `state.node_list`: `%N` when it is one node. */
  nodeList?: string | undefined;
  /** Where a relative pattern is (the directory sbatch ran in). Default: the current directory. */
  baseDir?: string | undefined;
}

export interface LogValues {
  values: LogPatternValues;
  /** An array task without `raw_id`: `%j` guesses to try, most likely first. */
  rawIdGuesses: string[];
}

/** The pattern letters' values for a job (see the rules above). */
export function logPatternValues(job: LogJob | undefined, ctx: Pick<LogPathContext, "user" | "nodeList"> = {}): LogValues {
  const values: LogPatternValues = { n: "0", t: "0", s: "batch" };
  // `user` is not a schema field of a record's job: only a string is taken.
  const user = (typeof job?.user === "string" ? job.user : undefined) ?? ctx.user;
  if (user) values.u = user;
  if (job?.name) values.x = job.name;
  const node = ctx.nodeList;
  if (node && /^[\w.-]+$/.test(node)) values.N = node.split(".")[0]!;
  const rawIdGuesses: string[] = [];
  if (job?.id) {
    const m = /^(\d+)(?:_(\d+))?/.exec(job.id);
    const base = job.array_job_id ?? (m?.[2] !== undefined ? m[1] : undefined);
    const task = job.array_task ?? (m?.[2] !== undefined ? Number(m[2]) : undefined);
    if (base !== undefined && task !== undefined) {
      values.A = base;
      values.a = String(task);
      if (job.raw_id) values.j = job.raw_id;
      else rawIdGuesses.push(String(Number(base) + task), base);
    } else if (m) {
      values.j = m[1]!;
      values.A = m[1]!;
      values.a = NO_ARRAY_TASK;
    }
    if (values.j) values.J = `${values.j}.batch`;
  }
  return { values, rawIdGuesses };
}

/** Slurm's default `--output` when a job has no log patterns. */
export function defaultLogPattern(job: LogJob | undefined): string {
  const isArray = job?.array_task !== undefined || /_\d+$/.test(job?.id ?? "");
  return isArray ? "slurm-%A_%a.out" : "slurm-%j.out";
}

function absolute(path: string, baseDir: string | undefined): string {
  return isAbsolute(path) ? path : resolve(baseDir ?? process.cwd(), path);
}

export interface ExpandedLogPath {
  /** Every letter known: the file's absolute path. */
  path?: string;
  /** The absolute path with unknown letters left as written (`%N`). */
  text: string;
  unknown: Set<PatternLetter>;
}

/** A pattern filled from the job, resolved against `ctx.baseDir` (no file system access). */
export function expandLogPath(pattern: string, job: LogJob | undefined, ctx: LogPathContext = {}): ExpandedLogPath {
  const { text, unknown } = fillFilenamePattern(pattern, logPatternValues(job, ctx).values);
  const abs = absolute(text, ctx.baseDir);
  return { ...(unknown.size === 0 ? { path: abs } : {}), text: abs, unknown };
}

/**
 * A pattern as a glob: literal text and values escaped by `escapeGlob` (the glob library's own, e.g.
 * fast-glob's `escapePath`), unknown letters `*`. A relative pattern is resolved against
 * `ctx.baseDir` first, so the base directory is escaped too.
 */
export function logPathGlob(pattern: string, job: LogJob | undefined, escapeGlob: (text: string) => string, ctx: LogPathContext = {}): { glob: string; wildcard: boolean } {
  const { text, unknown } = fillFilenamePattern(absolute(pattern, ctx.baseDir), logPatternValues(job, ctx).values, { literal: escapeGlob, unknown: () => "*" });
  return { glob: text, wildcard: unknown.size > 0 };
}

/** Unknown letters whose value is a number (matched as `\d+`); the others match `[^/]*`. */
const NUMERIC = /[jAant]/;

type Step = { c: number } | "digit" | "digits*" | "any*";

/**
 * Matches a file name against a pattern whose unknown letters are wildcards (`%j` any number, `%x`
 * any text without `/`), in O(name length x pattern length): the pattern is a list of steps run
 * as a set of states over the name, one character at a time. The regex it replaces
 * (`^arr-[^/]*-\d+-[^/]*\.out$`) backtracked polynomially in the number of wildcards: three unknown
 * `%x` against a directory of names full of `-` took minutes.
 */
export function logNameMatcher(pattern: string, values: LogPatternValues): (name: string) => boolean {
  const steps: Step[] = [];
  const text = (t: string) => {
    for (let i = 0; i < t.length; i++) steps.push({ c: t.charCodeAt(i) });
    return "";
  };
  fillFilenamePattern(pattern, values, {
    literal: text,
    unknown: (letter) => {
      if (NUMERIC.test(letter)) steps.push("digit", "digits*");
      else steps.push("any*");
      return "";
    },
  });
  const m = steps.length;
  let cur = new Uint8Array(m + 1);
  let next = new Uint8Array(m + 1);
  // A starred step may match nothing: reaching it also reaches the step after it.
  const close = (set: Uint8Array) => {
    for (let i = 0; i < m; i++) if (set[i] && typeof steps[i] === "string" && steps[i] !== "digit") set[i + 1] = 1;
  };
  return (name: string) => {
    cur.fill(0);
    cur[0] = 1;
    close(cur);
    for (let p = 0; p < name.length; p++) {
      const ch = name.charCodeAt(p);
      const digit = ch >= 48 && ch <= 57;
      next.fill(0);
      let alive = false;
      for (let i = 0; i < m; i++) {
        if (!cur[i]) continue;
        const s = steps[i]!;
        const to = s === "any*" ? (ch !== 47 ? i : -1) : s === "digits*" ? (digit ? i : -1) : s === "digit" ? (digit ? i + 1 : -1) : s.c === ch ? i + 1 : -1;
        if (to < 0) continue;
        next[to] = 1;
        alive = true;
      }
      if (!alive) return false;
      close(next);
      [cur, next] = [next, cur];
    }
    return cur[m] === 1;
  };
}

/** How a log file was found: exact expansion, a directory match, a guess, or not at all. */
export interface ResolvedLogPath {
  path: string;
  how: "exact" | "matched" | "guessed" | "unresolved";
  note?: string;
}

export interface FindLogOptions {
  /** Directory entries read when matching (the first ones, in directory order). Default 20,000. */
  limit?: number;
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** Regular files in `dir` whose name matches; newest first. Reads at most `limit` entries, one batch at a time. */
async function matchInDir(dir: string, matches: (name: string) => boolean, limit: number): Promise<string[]> {
  const hits: string[] = [];
  try {
    const d = await opendir(dir);
    let seen = 0;
    for await (const entry of d) {
      if (++seen > limit) break; // leaving the loop closes the directory
      if (matches(entry.name)) hits.push(join(dir, entry.name));
    }
  } catch {
    if (hits.length === 0) return [];
  }
  const withTime = await Promise.all(
    hits.map(async (p) => ({
      p,
      t: await stat(p).then(
        (s) => (s.isFile() ? s.mtimeMs : -1),
        () => -1,
      ),
    })),
  );
  return withTime
    .filter((x) => x.t >= 0)
    .sort((a, b) => b.t - a.t)
    .map((x) => x.p);
}

const letters = (unknown: Set<PatternLetter>) => [...unknown].map((k) => `%${k}`).join(" ");

/**
 * The file a job wrote for a pattern. Every letter known: the exact path (whether or not it
 * exists). Otherwise only the file-name part may hold unknown letters: the directory is listed
 * and a name matching with them as wildcards is taken (the newest of several, with a note); with
 * an array task's `%j` the only unknown, the directory is listed only when the name also has `%a`
 * or `%A` (unique per task), and then the raw id guesses are tried, the path marked `guessed`.
 * Never throws: what cannot be found is `unresolved`, with the pattern as the path and a note.
 */
export async function findLogFile(pattern: string, job: LogJob | undefined, ctx: LogPathContext = {}, options: FindLogOptions = {}): Promise<ResolvedLogPath> {
  const abs = (p: string) => absolute(p, ctx.baseDir);
  const { values, rawIdGuesses } = logPatternValues(job, ctx);
  const { text, unknown } = fillFilenamePattern(pattern, values);
  if (unknown.size === 0) return { path: abs(text), how: "exact" };

  const fallback = abs(pattern);
  const dir = fillFilenamePattern(dirname(pattern), values);
  if (dir.unknown.size > 0) return { path: fallback, how: "unresolved", note: `cannot fill ${letters(unknown)} in the directory part of ${pattern}` };
  const name = basename(pattern);
  const distinct = values.a !== undefined && /%\d*[aA]/.test(name);
  const onlyJ = unknown.size === 1 && unknown.has("j");
  if (!onlyJ || distinct) {
    const hits = await matchInDir(abs(dir.text), logNameMatcher(name, values), options.limit ?? 20_000);
    if (hits.length > 0) {
      const note = hits.length > 1 ? `${hits.length} files match ${pattern}; using the newest` : undefined;
      return { path: hits[0]!, how: "matched", ...(note ? { note } : {}) };
    }
  }
  if (onlyJ) {
    for (const j of rawIdGuesses) {
      const guess = abs(fillFilenamePattern(pattern, { ...values, j, J: `${j}.batch` }).text);
      if (await isFile(guess)) return { path: guess, how: "guessed", note: `array task's raw job id unknown (no job.raw_id): guessed %j=${j}` };
    }
  }
  return { path: fallback, how: "unresolved", note: `cannot fill ${letters(unknown)} in ${pattern}` };
}
