import { type ParsedState, parseDuration, parseMemory, parseSlurmTime, parseState } from "@slurmpipe/core";
import { keysOf } from "./ids.ts";

/**
 * One squeue call per cycle for every tracked job (slurm-facts.md §3):
 *   -h            no header
 *   -r            one line per array task (else pending tasks hide in one `123_[4-10%2]` line)
 *   -t all        finished jobs too (without it they vanish at once, even with -j)
 *   -j a,b        a LIST: `squeue -j <one unknown id>` fails with rc 1, a list never does,
 *                 so a single id is passed twice
 *   -o ...        explicit fields, `|`-separated, no widths (widths cut ids and names); the
 *                 name is last because it is the only free text (it may itself contain `|`)
 * runSlurm clears SQUEUE_* and sets SLURM_TIME_FORMAT=standard and SLURM_BITSTR_LEN=0.
 */
export const SQUEUE_FIELDS = ["%i", "%A", "%F", "%K", "%T", "%r", "%M", "%l", "%N", "%S", "%e", "%V", "%m", "%j"] as const;
export const SQUEUE_FORMAT = SQUEUE_FIELDS.join("|");

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
  name: string;
}

export interface ParsedSqueue {
  rows: SqueueRow[];
  /** Lines that could not be used (reported, never fatal). */
  skipped: string[];
}

export class SqueueFormatError extends Error {
  constructor(line: string) {
    super(`squeue printed a line that does not have the ${SQUEUE_FIELDS.length} requested fields: ${JSON.stringify(line.slice(0, 200))}`);
    this.name = "SqueueFormatError";
  }
}

const nullish = (s: string) => s === "" || s === "(null)" || s === "N/A" || s === "None" || s === "NONE";

/** Parses the output of `squeueArgs`. A line with the wrong field count throws: the output is not what was asked for. */
export function parseSqueue(stdout: string): ParsedSqueue {
  const rows: SqueueRow[] = [];
  const skipped: string[] = [];
  for (const line of stdout.split("\n")) {
    if (line.trim() === "") continue;
    const parts = line.split("|");
    if (parts.length < SQUEUE_FIELDS.length) throw new SqueueFormatError(line);
    const [printed, raw, arrayJob, task, stateText, reason, used, limit, nodes, start, end, submit, mem] = parts.map((p) => p.trim());
    const name = parts.slice(SQUEUE_FIELDS.length - 1).join("|");
    let keys: string[] | undefined;
    try {
      keys = keysOf(printed!);
    } catch {
      keys = undefined;
    }
    if (!keys) {
      skipped.push(`unusable job id ${JSON.stringify(printed)} (cut or unknown form)`);
      continue;
    }
    const state = parseState(stateText!);
    const row: SqueueRow = { keys, printedId: printed!, rawId: raw!, state, stateText: stateText!, name };
    if (task && !nullish(task) && arrayJob) row.arrayJobId = arrayJob;
    if (reason && !nullish(reason)) row.reason = reason;
    const elapsed = parseDuration(used!);
    if (typeof elapsed === "number") row.elapsedS = elapsed;
    const lim = parseDuration(limit!);
    if (typeof lim === "number") row.timeLimitS = lim;
    if (nodes && !nullish(nodes)) row.nodeList = nodes;
    const s = parseSlurmTime(start!);
    if (s) row.startedAt = s;
    const e = parseSlurmTime(end!);
    if (e) row.endedAt = e;
    const v = parseSlurmTime(submit!);
    if (v) row.submittedAt = v;
    const m = parseMemory(mem!);
    if (m) row.reqMemBytes = m;
    rows.push(row);
  }
  return { rows, skipped };
}
