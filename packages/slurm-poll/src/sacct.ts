import { type ParsedState, SACCT_BY_ID_FIELDS, isSlurmNull as nullish, parseDuration, parseJobId, parseMemory, parseSlurmTime, parseState, sacctFormat, slurmFields, slurmTimeArg } from "@slurmpipe/core";
import { jobKey } from "./ids.ts";

/**
 * At most one sacct call per cycle, for the jobs that left squeue (or ended in it), whatever their
 * number (slurm-facts.md §4):
 *   -P -n        `|`-separated, no trailing delimiter, no header (fixed width cuts values with `+`)
 *   -D           earlier runs of requeued jobs too: they count the restarts; the newest run decides
 *   no -X        step lines carry MaxRSS (the job line never does)
 *   -j ids       array job ids (they list every task, also tasks that never started: `200_[1,3]`)
 *   -S/-E        an explicit window: one day before the earliest submit .. now (a bare -S hides
 *                jobs from earlier days, a bare -E equals -S)
 * Not `--json`: 22.05/23.02 report every normal exit as 0 there. The name is last (free text).
 */
export const SACCT_FIELDS = SACCT_BY_ID_FIELDS;

export function sacctArgs(queryIds: readonly string[], windowStart: Date): string[] {
  const ids = [...new Set(queryIds)];
  return ["-P", "-n", "-D", "-j", ids.join(","), "-S", slurmTimeArg(windowStart), "-E", "now", "-o", sacctFormat(SACCT_FIELDS)];
}

/** One run (job-level line) of one job as accounting recorded it. */
export interface SacctRun {
  printedId: string;
  rawId: string;
  state: ParsedState;
  stateText: string;
  exitCode?: string;
  elapsedS?: number;
  startedAt?: string;
  endedAt?: string;
  submittedAt?: string;
  reqMemBytes?: number;
  timeLimitS?: number;
  nodeList?: string;
  reason?: string;
  name: string;
  /** Position in the output: sacct -D prints older runs first. */
  order: number;
}

export interface SacctStep {
  step: string;
  maxRssBytes?: number;
  startedAt?: string;
  order: number;
}

export interface SacctJob {
  runs: SacctRun[];
  steps: SacctStep[];
}

export interface ParsedSacct {
  jobs: Map<string, SacctJob>;
  skipped: string[];
}


export function parseSacct(stdout: string): ParsedSacct {
  const jobs = new Map<string, SacctJob>();
  const skipped: string[] = [];
  const entry = (key: string) => {
    let j = jobs.get(key);
    if (!j) jobs.set(key, (j = { runs: [], steps: [] }));
    return j;
  };
  let order = 0;
  for (const line of stdout.split("\n")) {
    if (line.trim() === "") continue;
    order += 1;
    const [printed, raw, stateText, exit, elapsed, start, end, submit, maxRss, reqMem, limit, nodes, reason, name] = slurmFields(line, SACCT_FIELDS.length, "sacct");
    let keys: string[];
    let step: string | undefined;
    try {
      const id = parseJobId(printed!);
      step = id.step;
      if (id.taskSpec !== undefined) {
        if (!id.arrayTasks) throw new Error("cut task list");
        keys = id.arrayTasks.map((t) => jobKey({ jobId: id.jobId, arrayTask: t, hetOffset: id.hetOffset }));
      } else keys = [jobKey(id)];
    } catch {
      skipped.push(`unusable job id ${JSON.stringify(printed)}`);
      continue;
    }
    if (step !== undefined) {
      const s: SacctStep = { step, order };
      const rss = maxRss ? parseMemory(maxRss) : undefined;
      if (rss !== undefined) s.maxRssBytes = rss;
      const st = parseSlurmTime(start!);
      if (st) s.startedAt = st;
      for (const k of keys) entry(k).steps.push(s);
      continue;
    }
    const run: SacctRun = { printedId: printed!, rawId: raw!, state: parseState(stateText!), stateText: stateText!, name: name!, order };
    if (exit && /^\d+:\d+$/.test(exit)) run.exitCode = exit;
    const el = parseDuration(elapsed!);
    if (typeof el === "number") run.elapsedS = el;
    const st = parseSlurmTime(start!);
    if (st) run.startedAt = st;
    const en = parseSlurmTime(end!);
    if (en) run.endedAt = en;
    const sub = parseSlurmTime(submit!);
    if (sub) run.submittedAt = sub;
    const rm = reqMem && !nullish(reqMem) ? parseMemory(reqMem) : undefined;
    if (rm) run.reqMemBytes = rm;
    const lim = parseDuration(limit!);
    if (typeof lim === "number") run.timeLimitS = lim;
    if (nodes && !nullish(nodes)) run.nodeList = nodes;
    if (reason && !nullish(reason)) run.reason = reason;
    for (const k of keys) entry(k).runs.push(run);
  }
  return { jobs, skipped };
}

/** The placeholder name slurmdbd gives a job whose record is not complete yet (§4.7): its row lags. */
export const PLACEHOLDER_NAME = "allocation";

/**
 * The newest run among `runs` (already filtered to ours): latest submit time (requeue resets it),
 * then output order. Undefined for an empty list.
 */
export function newestRun(runs: readonly SacctRun[]): SacctRun | undefined {
  let best: SacctRun | undefined;
  for (const r of runs) {
    if (!best) best = r;
    else {
      const a = best.submittedAt ?? "";
      const b = r.submittedAt ?? "";
      if (b > a || (b === a && r.order > best.order)) best = r;
    }
  }
  return best;
}

/** Peak MaxRSS over the steps of the run that started at `runStart` (older runs' steps are ignored). */
export function peakRss(steps: readonly SacctStep[], runStart?: string): number | undefined {
  let peak: number | undefined;
  for (const s of steps) {
    if (s.maxRssBytes === undefined) continue;
    if (runStart && s.startedAt && s.startedAt < runStart) continue;
    peak = peak === undefined ? s.maxRssBytes : Math.max(peak, s.maxRssBytes);
  }
  return peak;
}
