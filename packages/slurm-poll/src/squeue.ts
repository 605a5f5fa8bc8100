import { type ParsedState, SQUEUE_BY_ID_FIELDS, SlurmOutputError, isSlurmNull as nullish, parseDuration, parseMemory, parseSlurmTime, parseState, slurmFields, squeueFormat } from "@slurmpipe/core";
import { keysOf } from "./ids.ts";

/**
 * One squeue call per cycle for every tracked job (slurm-facts.md §3):
 *   -h            no header
 *   -r            one line per array task (else pending tasks hide in one `123_[4-10%2]` line)
 *   -t all        finished jobs too (without it they vanish at once, even with -j)
 *   -j a,b        a LIST: `squeue -j <one unknown id>` fails with rc 1, a list never does,
 *                 so a single id is passed twice
 *   -o ...        core's SQUEUE_BY_ID_FIELDS (%E: the upstream job of a DependencyNeverSatisfied) (its query module holds the formats, the null
 *                 spellings and the malformed-output policy: see core/src/slurm/query.ts)
 */
export const SQUEUE_FIELDS = SQUEUE_BY_ID_FIELDS;
export const SQUEUE_FORMAT = squeueFormat(SQUEUE_FIELDS);

export function squeueArgs(queryIds: readonly string[]): string[] {
  const ids = [...new Set(queryIds)];
  if (ids.length === 1) ids.push(ids[0]!);
  return ["-h", "-r", "-t", "all", "-j", ids.join(","), "-o", SQUEUE_FORMAT];
}

export interface SqueueRow {
  /** Tracked-job keys this line covers ("123", "123_4"; several for an unexpanded array record). */
  keys: string[];
  printedId: string;
  rawId: string;
  arrayJobId?: string;
  state: ParsedState;
  stateText: string;
  reason?: string;
  elapsedS?: number;
  timeLimitS?: number;
  nodeList?: string;
  startedAt?: string;
  endedAt?: string;
  submittedAt?: string;
  reqMemBytes?: number;
  /** %E, e.g. `afterok:167(failed)`; unset when `(null)`. */
  dependency?: string;
  name: string;
}

export interface ParsedSqueue {
  rows: SqueueRow[];
  /** Lines that could not be used (reported, never fatal). */
  skipped: string[];
}


/** Parses the output of `squeueArgs`. A line with the wrong field count throws: the output is not what was asked for. */
export function parseSqueue(stdout: string): ParsedSqueue {
  const rows: SqueueRow[] = [];
  const skipped: string[] = [];
  const memo = new FieldMemo();
  for (const line of stdout.split("\n")) {
    if (line.trim() === "") continue;
    const row = parseLine(line, memo);
    if (row) rows.push(row);
    else skipped.push(unusable(line));
  }
  return { rows, skipped };
}

/**
 * squeue's answer for the cycle, parsed one job at a time when asked: 100,000 parsed rows held
 * together were ~70 MB; this index keeps the output and where each job's lines start (~7 MB
 * more). Every line is checked at once (field count, usable job id), so a malformed answer still
 * fails the query.
 */
export class SqueueIndex {
  private readonly starts = new Map<string, number[]>();
  /** Lines that could not be used (reported, never fatal). */
  readonly skipped: string[] = [];
  private readonly memo = new FieldMemo();

  constructor(private readonly stdout: string) {
    for (let start = 0; start < stdout.length; ) {
      const line = lineAt(stdout, start);
      const at = start;
      start += line.length + 1;
      if (line.trim() === "") continue;
      if (fieldCount(line) < SQUEUE_FIELDS.length) throw new SlurmOutputError("squeue", line, SQUEUE_FIELDS.length);
      const keys = lineKeys(line);
      if (!keys) {
        this.skipped.push(unusable(line));
        continue;
      }
      for (const k of keys) {
        const known = this.starts.get(k);
        if (known === undefined) this.starts.set(k, [at]);
        else known.push(at);
      }
    }
  }

  /** The rows listing the job, in squeue's order (several when another job holds the id too). */
  rows(key: string): SqueueRow[] | undefined {
    const starts = this.starts.get(key);
    if (starts === undefined) return undefined;
    const rows: SqueueRow[] = [];
    for (const at of starts) rows.push(parseLine(lineAt(this.stdout, at), this.memo)!);
    return rows;
  }
}

/** The line starting at `start` (a slice of the text, not a copy), without its newline. */
function lineAt(text: string, start: number): string {
  const end = text.indexOf("\n", start);
  return text.slice(start, end === -1 ? text.length : end);
}

function fieldCount(line: string): number {
  let n = 1;
  for (let at = line.indexOf("|"); at !== -1 && n < SQUEUE_FIELDS.length; at = line.indexOf("|", at + 1)) n += 1;
  return n;
}

function lineKeys(line: string): string[] | undefined {
  try {
    return keysOf(line.slice(0, line.indexOf("|")).trim());
  } catch {
    return undefined;
  }
}

function unusable(line: string): string {
  return `unusable job id ${JSON.stringify(line.slice(0, line.indexOf("|")).trim())} (cut or unknown form)`;
}

/**
 * The values an array's tasks repeat (state, times, limits, memory), parsed once per answer: the
 * tasks then share one copy of each. Up to MEMO_SIZE distinct values per field kind (running jobs'
 * elapsed times all differ; those are parsed each time).
 */
const MEMO_SIZE = 4096;

class Memo<T> {
  private readonly known = new Map<string, T>();
  constructor(private readonly parse: (text: string) => T) {}
  get(text: string): T {
    const hit = this.known.get(text);
    if (hit !== undefined || this.known.has(text)) return hit as T;
    const v = this.parse(text);
    if (this.known.size < MEMO_SIZE) this.known.set(text, v);
    return v;
  }
}

class FieldMemo {
  readonly state = new Memo(parseState);
  readonly duration = new Memo(parseDuration);
  readonly time = new Memo(parseSlurmTime);
  readonly memory = new Memo((t: string) => parseMemory(t));
}

/** One line, or undefined when its job id cannot be used; throws on a wrong field count. */
function parseLine(line: string, memo: FieldMemo): SqueueRow | undefined {
  const [printed, raw, arrayJob, task, stateText, reason, used, limit, nodes, start, end, submit, mem, dependency, name] = slurmFields(line, SQUEUE_FIELDS.length, "squeue");
  let keys: string[] | undefined;
  try {
    keys = keysOf(printed!);
  } catch {
    keys = undefined;
  }
  if (!keys) return undefined;
  const row: SqueueRow = { keys, printedId: printed!, rawId: raw!, state: memo.state.get(stateText!), stateText: stateText!, name: name! };
  if (task && !nullish(task) && arrayJob) row.arrayJobId = arrayJob;
  if (reason && !nullish(reason)) row.reason = reason;
  const elapsed = memo.duration.get(used!);
  if (typeof elapsed === "number") row.elapsedS = elapsed;
  const lim = memo.duration.get(limit!);
  if (typeof lim === "number") row.timeLimitS = lim;
  if (nodes && !nullish(nodes)) row.nodeList = nodes;
  const s = memo.time.get(start!);
  if (s) row.startedAt = s;
  const e = memo.time.get(end!);
  if (e) row.endedAt = e;
  const v = memo.time.get(submit!);
  if (v) row.submittedAt = v;
  const m = memo.memory.get(mem!);
  if (m) row.reqMemBytes = m;
  if (dependency && !nullish(dependency)) row.dependency = dependency;
  return row;
}
