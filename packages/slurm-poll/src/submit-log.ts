import { existsSync, readFileSync } from "node:fs";
import { appendFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { type RunRecord, shellQuoteForDisplay } from "@slurmpipe/core";
import { type HumanLog, logTime } from "./humanlog.ts";
import type { FailedSubmission } from "./inputs.ts";
import type { TrackedRun } from "./track.ts";

/** Where the failed submissions already written to a --log are remembered (one key a line), so cron ticks write each once. */
export const LOGGED_FAILURES_FILE = "logged-failures.txt";

/** A job waiting in the batch: what its SUBMIT_JOB entry and the batch's counts need. */
interface Arrival {
  tr: TrackedRun;
  at: Date;
  name: string;
  command?: string;
  submittedAt?: string;
  runDir?: string;
  script?: string;
}

const SUMMARY_FILES = ["experiment_summary.md", "experiment_summary.yaml", "experiment_summary.yml"];

/**
 * The submission part of the run log (seed 002's run-torchtune.log): before the SUBMIT_JOB entries
 * of the jobs that entered the watch since the last cycle, DISCOVER_EXPERIMENT (each experiment
 * directory: the parent of the run directories, with its experiment_summary file) and
 * IDENTIFY_RUNS (how many run directories and jobs); after them a SUBMIT_FAILED error entry for
 * each submission that created no job (ledger `failed` entries, records with a slurm-submit error);
 * and, once the input has ended, ALL_SUBMITTED with the counts and job ids since the last one.
 * The entries are written when a batch closes (before each cycle's STATUS_CHECK), so the counts
 * are known; the waiting jobs are held as references, their records read back only then.
 */
export class SubmitLog {
  /** Runs whose latest submission failed (no job), seen in this session: the closing entry names them. */
  readonly failedRuns = new Map<string, { name: string; message: string }>();
  private batch: Arrival[] = [];
  private batchFailures: FailedSubmission[] = [];
  private sinceAll = { submitted: 0, failed: 0, ids: [] as string[], failedNames: [] as string[] };
  private logged: Set<string> | undefined;

  constructor(
    private readonly human: HumanLog,
    /** <state>/poll: where LOGGED_FAILURES_FILE lives; unset: nothing remembered across runs. */
    private readonly pollDir: string | undefined,
    private readonly enabled: boolean,
  ) {}

  /** A job entered the watch for the first time (its SUBMIT_JOB entry waits for the batch's close). */
  arrived(tr: TrackedRun, at: Date, record: RunRecord): void {
    if (!this.enabled) return;
    const job = record.job!;
    const scriptDir = record.script?.path ? dirname(record.script.path) : undefined;
    const cd = scriptDir ? `cd ${shellQuoteForDisplay(scriptDir || ".")} && ` : "";
    this.batch.push({
      tr,
      at,
      name: record.name,
      ...(job.argv ? { command: `${cd}${job.argv.map(shellQuoteForDisplay).join(" ")}` } : {}),
      ...(job.submitted_at ? { submittedAt: job.submitted_at } : {}),
      ...(record.dir ?? scriptDir ? { runDir: record.dir ?? scriptDir } : {}),
      ...(record.script?.path ? { script: record.script.path } : {}),
    });
  }

  /** A submission that created no job. */
  failed(f: FailedSubmission): void {
    if (!f.superseded) this.failedRuns.set(f.runId, { name: f.name ?? `run ${f.runId}`, message: f.message });
    if (!this.enabled) return;
    this.logged ??= this.readLogged();
    const key = failureKey(f);
    if (this.logged.has(key)) return;
    this.logged.add(key);
    this.batchFailures.push(f);
  }

  /** Writes the batch's entries; with `inputEnded`, ALL_SUBMITTED for everything since the last one. */
  async close(now: Date, inputEnded: boolean): Promise<void> {
    const batch = this.batch;
    const failures = this.batchFailures;
    this.batch = [];
    this.batchFailures = [];
    if (batch.length > 0 || failures.length > 0) await this.writeBatch(now, batch, failures);
    const all = this.sinceAll;
    if (inputEnded && all.submitted + all.failed > 0) {
      this.human.entry(now, "ALL_SUBMITTED", "Job submission complete", [
        ["Summary", `${all.submitted} jobs submitted successfully (${all.failed} failures)`],
        ["Job IDs", idList(all.ids)],
        ["Failed", all.failedNames.length ? `${all.failedNames.join(", ")} (see SUBMIT_FAILED above; resubmit: slurm-submit --resubmit failed)` : undefined],
      ]);
      this.sinceAll = { submitted: 0, failed: 0, ids: [], failedNames: [] };
    }
  }

  private async writeBatch(now: Date, batch: Arrival[], failures: FailedSubmission[]): Promise<void> {
    const first = batch[0]?.at ?? now;
    const experiments = new Map<string, number>();
    const scriptDirs = new Set<string>();
    const scriptNames = new Set<string>();
    for (const { runDir, script } of batch) {
      if (script) {
        scriptDirs.add(dirname(script));
        scriptNames.add(basename(script));
      }
      const summary = runDir ? experimentSummary(dirname(runDir)) : undefined;
      if (summary) experiments.set(summary, (experiments.get(summary) ?? 0) + 1);
    }
    for (const [summary, n] of experiments) {
      this.human.entry(first, "DISCOVER_EXPERIMENT", "Found experiment", [
        ["Details", summary],
        ["Result", `Experiment has ${n} fine-tuning runs to watch`],
      ]);
    }
    let running = 0;
    let completed = 0;
    for (const { tr } of batch) {
      const c = tr.track.state?.category;
      if (c === "active") running++;
      else if (c === "success") completed++;
    }
    const scripts = scriptNames.size === 1 ? `${[...scriptNames][0]} files` : "job scripts";
    this.human.entry(first, "IDENTIFY_RUNS", "Scanning for runs to submit", [
      ["Details", scriptDirs.size ? `Found ${scriptDirs.size} directories with ${scripts}` : `Found ${batch.length} submitted runs`],
      ["Result", `${batch.length} runs submitted, ${failures.length} failed to submit (${running} already running, ${completed} completed)`],
    ]);
    for (const a of batch) {
      this.human.entry(a.at, "SUBMIT_JOB", a.name, [
        ["Command", a.command],
        ["Result", `Job ID ${a.tr.track.key} submitted at ${logTime(a.submittedAt) ?? "an unknown time"}`],
      ]);
      this.sinceAll.ids.push(a.tr.track.key);
    }
    this.sinceAll.submitted += batch.length;
    for (const f of failures) {
      const at = new Date(f.at);
      this.human.entry(Number.isNaN(at.getTime()) ? now : at, "SUBMIT_FAILED", f.name ?? `run ${f.runId}`, [
        ["Command", f.argv ? f.argv.map(shellQuoteForDisplay).join(" ") : undefined],
        ["Error", `${f.message}${f.code ? ` (${f.code})` : ""}`],
        ["Result", f.superseded ? `attempt ${f.attempt} not submitted; a later attempt was` : `not submitted: no job was created (attempt ${f.attempt})`],
      ]);
      if (!f.superseded) {
        this.sinceAll.failed += 1;
        this.sinceAll.failedNames.push(f.name ?? f.runId);
      }
    }
    if (this.pollDir && failures.length) await appendFile(join(this.pollDir, LOGGED_FAILURES_FILE), failures.map((f) => `${failureKey(f)}\n`).join(""));
  }

  private readLogged(): Set<string> {
    if (!this.pollDir) return new Set();
    try {
      return new Set(readFileSync(join(this.pollDir, LOGGED_FAILURES_FILE), "utf8").split("\n").filter(Boolean));
    } catch {
      return new Set();
    }
  }
}

function failureKey(f: FailedSubmission): string {
  return `${f.runId}|${f.attempt}|${f.at}`;
}

const summaries = new Map<string, string | undefined>();
/** The experiment_summary file of an experiment directory, if it has one. */
function experimentSummary(expDir: string): string | undefined {
  if (!summaries.has(expDir)) summaries.set(expDir, SUMMARY_FILES.map((f) => join(expDir, f)).find((p) => existsSync(p)));
  return summaries.get(expDir);
}

/** "43-50" for consecutive job ids, else the ids (the first 20 and a count). */
export function idList(ids: readonly string[]): string {
  if (ids.length === 0) return "none";
  const nums = ids.map(Number);
  if (ids.length > 1 && nums.every(Number.isInteger)) {
    const sorted = [...nums].sort((a, b) => a - b);
    if (sorted.every((n, i) => i === 0 || n === sorted[i - 1]! + 1)) return `${sorted[0]}-${sorted.at(-1)}`;
  }
  return ids.length > 20 ? `${ids.slice(0, 20).join(", ")}, ... (${ids.length} jobs)` : ids.join(", ");
}
