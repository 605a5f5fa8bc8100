import { type Logger, SCHEMA_VERSION } from "@slurmpipe/core";
import type { Candidate, Problem, RunInput } from "./collect.ts";

/** Declared outputs missing or empty: they stop the archive unless --allow-missing (then they are warnings). */
const BLOCKING = new Set(["missing_output", "missing_dir", "empty_output"]);

/**
 * Logs each problem and writes it as an `archive-check` record (local and --remote archives alike),
 * --allow-missing turning the blocking ones into warnings. `failed`: one was an error; `blocked`:
 * a blocking one stops the archive.
 */
export async function reportProblems(problems: readonly Problem[], allowMissing: boolean, writer: { write(record: unknown): Promise<void> }, log: Logger): Promise<{ failed: boolean; blocked: boolean }> {
  let failed = false;
  for (const p of problems) {
    const severity = allowMissing && BLOCKING.has(p.problem) ? "warning" : p.severity;
    if (severity === "error") failed = true;
    (severity === "error" ? log.error : log.warn)(p.message);
    await writer.write({ kind: "archive-check", v: SCHEMA_VERSION, ...p, severity });
  }
  return { failed, blocked: !allowMissing && problems.some((p) => BLOCKING.has(p.problem)) };
}

export interface CheckOptions {
  /** A checkpoint smaller than this fraction of the median of its siblings is flagged. */
  outlierRatio: number;
}

/**
 * Quality checks on what is about to be archived: empty files (an empty declared output is an
 * error, an empty stderr log is normal and not reported), checkpoints far smaller than the same
 * checkpoint in the other runs (a truncated save), and runs that did not end well.
 */
export function checkFiles(runs: RunInput[], files: Candidate[], options: CheckOptions): Problem[] {
  const problems: Problem[] = [];
  for (const f of files) {
    if (f.size !== 0 || f.role === "log") continue;
    problems.push({
      run_id: f.run_id,
      name: f.run_name,
      problem: f.declared ? "empty_output" : "empty_file",
      severity: f.declared ? "error" : "warning",
      path: f.path,
      message: `${f.path} is empty`,
    });
  }

  // Siblings: the same path relative to the run directory, across runs.
  const groups = new Map<string, Candidate[]>();
  for (const f of files) {
    if (f.role !== "checkpoint" || f.run_id === undefined) continue;
    const rel = f.path.split("/").slice(2).join("/");
    const list = groups.get(rel) ?? [];
    list.push(f);
    groups.set(rel, list);
  }
  for (const [rel, list] of groups) {
    if (list.length < 2) continue;
    const med = median(list.map((f) => f.size));
    for (const f of list) {
      if (f.size > 0 && f.size < med * options.outlierRatio) {
        problems.push({
          run_id: f.run_id,
          name: f.run_name,
          problem: "size_outlier",
          severity: "warning",
          path: f.path,
          message: `${f.path} is ${f.size} bytes, under ${Math.round(options.outlierRatio * 100)}% of the median ${med} of ${list.length} runs' ${rel}`,
          ...{ size: f.size, median: med },
        } as Problem);
      }
    }
  }

  for (const run of runs) {
    const state = run.record.state;
    if (state && state.category !== "success") {
      problems.push({
        run_id: run.record.id,
        name: run.record.name,
        problem: state.terminal ? "run_failed" : "run_not_finished",
        severity: "warning",
        message: `${run.record.name} is ${state.state}${state.terminal ? "" : " (still running?)"}`,
      });
    }
  }
  return problems;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
