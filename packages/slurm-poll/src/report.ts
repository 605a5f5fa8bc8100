import { type JobEvent, type JobState, type Logger, NdjsonWriter, type RunRecord, SlurmCommandError, shellQuoteForDisplay } from "@slurmpipe/core";
import type { Effect } from "./apply.ts";
import { join } from "node:path";
import { HumanLog, humanElapsed, logTime } from "./humanlog.ts";
import type { FailedSubmission } from "./inputs.ts";
import { POLL_DIR } from "./store.ts";
import { SubmitLog } from "./submit-log.ts";
import type { Registry } from "./registry.ts";
import { type Track, type TrackedRun, earliestTime, isBlocked, isFinal } from "./track.ts";

/** Exit code 3: jobs still running (or UNKNOWN, or lost) after --once, --timeout or a watch that ended on lost jobs. */
export const EXIT_RUNNING = 3;

/**
 * Everything poll says, in one place: events and run records on stdout (NDJSON), warnings on
 * stderr, entries of the human-readable --log; and, at the end, the summary and the exit code.
 * What to say is decided elsewhere (apply.ts, cycle.ts); this only says it.
 */
export class Reporter {
  readonly log: Logger;
  private readonly out: NdjsonWriter;
  private readonly human: HumanLog;
  private readonly once: boolean;

  /** The submission entries of the log (DISCOVER_EXPERIMENT ... ALL_SUBMITTED) and the failed submissions. */
  readonly submissions: SubmitLog;

  constructor(
    o: { stdout: NodeJS.WritableStream; log: Logger; logFile?: string; once: boolean; state?: string },
    private readonly registry: Registry,
  ) {
    this.out = new NdjsonWriter(o.stdout);
    this.human = new HumanLog(o.logFile);
    this.log = o.log;
    this.once = o.once;
    this.submissions = new SubmitLog(this.human, o.state !== undefined ? join(o.state, POLL_DIR) : undefined, o.logFile !== undefined);
  }

  /** A record poll does not track (no job, an error, an event): on downstream unchanged. */
  async passThrough(value: unknown): Promise<void> {
    await this.out.write(value);
  }

  /** A job entered the watch (its SUBMIT_JOB entry is written when the batch closes, see SubmitLog). */
  submitted(now: Date, record: RunRecord, tr: TrackedRun): void {
    this.submissions.arrived(tr, now, record);
  }

  /** A submission that created no job: a warning, and a SUBMIT_FAILED entry in the log. */
  submitFailed(f: FailedSubmission, source: string): void {
    if (!f.superseded) this.log.warn(`${source}:${f.line}: ${f.name ?? `run ${f.runId}`} was not submitted (attempt ${f.attempt}): ${f.message}`);
    this.submissions.failed(f);
  }

  /** Before a cycle: the log entries of the jobs (and failures) that arrived since the last one. */
  async closeBatch(now: Date, inputEnded: boolean): Promise<void> {
    await this.submissions.close(now, inputEnded);
  }

  /** What applying a cycle's decision to a job found (see apply.ts), said in the order found. */
  async effect(tr: TrackedRun, e: Effect, now: Date): Promise<void> {
    const t = tr.track;
    switch (e.kind) {
      case "reused":
        this.log.warn(`job ${t.key} of run ${t.runId}: ${e.note}: not our job (job id reused after a controller restart?); treated as absent`);
        return;
      case "requeue-limit":
        this.log.warn(`${tr.name} (job ${t.key}) was requeued ${e.restarts} times, more than --max-requeues ${e.limit}`);
        this.human.entry(now, "REQUEUE_LIMIT", tr.name, [
          ["Job ID", t.key],
          ["Restarts", e.restarts],
          ["Limit", e.limit],
        ]);
        return;
      case "early-failure":
        this.earlyFailure(tr, e.state, now);
        return;
      case "changed":
        // A blocked job's record went out when it became blocked: the one of its end is still to come.
        if (e.from?.category === "blocked" && e.to.category !== "blocked") tr.emitted = false;
        await this.event(tr, e.from, e.to, now);
        return;
      case "lost":
        if (e.newly) this.lost(tr, e.state, now);
        return;
      case "found-again":
        this.log.info(`${tr.name} (job ${t.key}), reported lost, is listed again (${e.state.state}): tracked again`);
        tr.emitted = false; // its final record is still to come
        return;
      case "record-due":
        // --once writes every record at the end, each once.
        if (!this.once) await this.emitRecord(tr);
        return;
    }
  }

  private lost(tr: TrackedRun, state: JobState, now: Date): void {
    const t = tr.track;
    this.log.warn(`${tr.name} (job ${t.key}) ${state.reason}; it stays UNKNOWN (flag "lost"), exit code 3`);
    this.human.entry(now, "JOB_LOST", tr.name, [
      ["Job ID", t.key],
      t.hostLost !== undefined ? ["Why", t.hostLost] : ["Missing", `${humanElapsed((t.missingMs ?? 0) / 1000)} from squeue and sacct (answered queries only)`],
      ["Last seen", t.lastSeenAt ? `${t.lastKnownState ?? "?"} at ${logTime(t.lastSeenAt)}` : "never"],
      ["Result", "no longer waited for; state UNKNOWN, flag lost"],
    ]);
  }

  private earlyFailure(tr: TrackedRun, state: JobState, now: Date): void {
    const t = tr.track;
    const { elapsed_s: ran = 0, path, tail = [], error } = state.early_failure!;
    const head = `early failure: ${tr.name} (job ${t.key}) ${state.state}${state.exit_code ? ` ${state.exit_code}` : ""} after ${humanElapsed(ran)}`;
    this.log.warn(error ? `${head}; ${error}` : `${head}; last lines of ${path}:\n${tail.map((l) => `    ${l}`).join("\n")}`);
    this.human.entry(now, "EARLY_FAILURE", tr.name, [
      ["Job ID", t.key],
      ["State", `${state.state}${state.exit_code ? ` (exit ${state.exit_code})` : ""} after ${humanElapsed(ran)}`],
      ["Stderr", path],
      ["Tail", error ?? (tail.length ? `\n${tail.join("\n")}` : "(empty)")],
    ]);
  }

  private async event(tr: TrackedRun, prev: JobState | undefined, state: JobState, now: Date): Promise<void> {
    const t = tr.track;
    const ev: JobEvent = { kind: "event", v: 1, job_id: t.key, from: prev?.state ?? null, to: state.state, category: state.category, at: now.toISOString() };
    if (t.runId) ev.run_id = t.runId;
    if (tr.name) ev.name = tr.name;
    if (t.arrayTask !== undefined) ev.array_task = t.arrayTask;
    // Slurm's own times (squeue %S/%e, sacct Start/End), never the time of this poll (`at`).
    if (state.started_at) ev.started_at = state.started_at;
    if (state.ended_at) ev.ended_at = state.ended_at;
    if (state.blocked_by) ev.blocked_by = state.blocked_by;
    if (state.reason) ev.reason = state.reason;
    if (state.exit_code) ev.exit_code = state.exit_code;
    if (state.elapsed_s !== undefined) ev.elapsed_s = state.elapsed_s;
    if (state.node_list) ev.node_list = state.node_list;
    ev.restarts = state.restarts ?? t.restarts;
    await this.out.write(ev);
    this.human.entry(now, "STATE_CHANGE", tr.name, [
      ["Job ID", t.key],
      ["Previous", prev?.state ?? "(not seen yet)"],
      ["Current", state.category === "blocked" ? `${state.state} (blocked: its dependency can never be satisfied)` : state.state],
      ["Reason", state.reason],
      ["Blocked by", state.blocked_by?.length ? `job ${state.blocked_by.join(", ")} (failed)` : undefined],
      ["Started", state.category === "active" || state.terminal ? logTime(state.started_at) : undefined],
      ["Completed", state.terminal ? logTime(state.ended_at) : undefined],
      ["Elapsed", state.terminal && state.elapsed_s !== undefined ? humanElapsed(state.elapsed_s) : undefined],
      ["Exit code", state.terminal ? state.exit_code : undefined],
      ["Restarts", state.restarts ? state.restarts : undefined],
    ]);
  }

  /** The job's run record with its current state, downstream; once (again only after it was lost and came back). */
  async emitRecord(tr: TrackedRun): Promise<void> {
    if (tr.emitted) return;
    tr.emitted = true;
    if (isFinal(tr.track)) tr.track.finalEmitted = true;
    const state = tr.track.state;
    // The raw id of a started array task is what sbatch's %j expands to in its log paths.
    const rawId = tr.track.rawId;
    // A fresh copy, so it is set in place (same keys, same order as a spread): V8 allocates the
    // spread copies of 100,000 big records straight in the old generation (~40 MB of garbage).
    const record = await this.registry.record(tr);
    if (rawId && record.job && rawId !== record.job.id) record.job.raw_id = rawId;
    if (state) record.state = state;
    await this.out.write(record);
  }

  /** The log entry of an answered cycle. */
  statusCheck(now: Date, args: readonly string[], acctFailure: string | undefined): void {
    this.human.entry(now, "STATUS_CHECK", "Polling SLURM", [
      ["Command", commandLine("squeue", args)],
      ["Result", `${this.registry.size} jobs found - ${this.countsText()}`],
      ["Note", acctFailure ? `sacct failed (${acctFailure}); jobs that left squeue keep their last state` : undefined],
    ]);
  }

  /** --cancel-unsatisfiable asked scancel to cancel these blocked jobs: stderr and the log say which, and why. */
  cancelledBlocked(now: Date, runs: readonly TrackedRun[], ids: readonly string[], failure: string | undefined): void {
    const which = runs.map((tr) => `${tr.name} (job ${tr.track.key}${blockedByText(tr.track.state)})`).join(", ");
    if (failure) this.log.warn(`scancel of ${runs.length} blocked job(s) failed, they stay PENDING: ${failure}`);
    else this.log.warn(`cancelled ${runs.length} job(s) whose dependency can never be satisfied (--cancel-unsatisfiable): ${which}`);
    this.human.entry(now, "CANCEL_BLOCKED", `${runs.length} jobs whose dependency can never be satisfied`, [
      ["Command", commandLine("scancel", ids)],
      ["Jobs", which],
      ["Result", failure ? `scancel failed (${failure}); the jobs stay PENDING` : "cancel requested; Slurm reports them CANCELLED"],
    ]);
  }

  /** squeue or sacct gave no answer: nothing changed. */
  queryFailed(now: Date, command: string, args: readonly string[], why: string): void {
    this.human.entry(now, "STATUS_CHECK", "Polling SLURM", [
      ["Command", commandLine(command, args)],
      ["Result", `query failed (${why}); no state changed`],
    ]);
  }

  /** The log's closing entry: all done, jobs lost, or stopped (--once, --timeout) with jobs left. */
  finish(now: Date, how: { timedOut: boolean; noJobs: string }): void {
    const all = [...this.registry.runs()];
    const tracks = all.map((tr) => tr.track);
    const settled = (t: Track) => isFinal(t) || isBlocked(t);
    if (all.length === 0 && this.submissions.failedRuns.size === 0) {
      this.log.warn(how.noJobs);
    } else if (tracks.every(settled)) {
      const ok = tracks.filter((t) => t.state?.category === "success").length;
      const failed = tracks.filter((t) => t.state?.category !== "success");
      const byState = new Map<string, number>();
      for (const t of failed) {
        const word = isBlocked(t) ? "BLOCKED" : t.state!.state;
        byState.set(word, (byState.get(word) ?? 0) + 1);
      }
      const detail = byState.size ? ` (${[...byState].map(([s, n]) => `${n} ${s}`).join(", ")})` : "";
      const first = earliestTime(tracks, Number.POSITIVE_INFINITY);
      const blocked = all.filter((tr) => isBlocked(tr.track));
      const notSubmitted = [...this.submissions.failedRuns.values()];
      // Failed jobs are counted in the summary (the seed's format); a blocked job or a run never
      // submitted is not visible there, so the subject says it.
      const problems = blocked.length + notSubmitted.length;
      this.human.entry(now, "ALL_COMPLETE", problems ? "Monitoring finished, NOT all runs succeeded" : "Monitoring finished", [
        ["Summary", `${all.length} jobs completed - ${ok} COMPLETED, ${failed.length} FAILED${detail}`],
        ["Blocked", blocked.length ? `${blocked.map((tr) => `${tr.name} (job ${tr.track.key}${blockedByText(tr.track.state)})`).join(", ")}: PENDING for good (cancel: slurm-poll --cancel-unsatisfiable, or scancel ${blocked.map((tr) => tr.track.key).join(" ")})` : undefined],
        ["Not submitted", notSubmitted.length ? `${notSubmitted.length} run(s) - ${notSubmitted.map((f) => `${f.name}: ${f.message}`).join("; ")}` : undefined],
        ["Total time", Number.isFinite(first) ? humanElapsed((now.getTime() - first) / 1000) : undefined],
      ]);
    } else if (!how.timedOut && !this.once) {
      // The watch ended on its own: the jobs not terminal (nor blocked) are lost.
      const lost = tracks.filter((t) => !settled(t));
      this.log.warn(`watch ended: ${lost.length} of ${all.length} job(s) lost (${lost.map((t) => t.key).join(", ")}), the others ended`);
      this.human.entry(now, "MONITOR_STOPPED", "jobs lost", [
        ["Summary", `${lost.length} of ${all.length} jobs lost (missing from squeue and sacct) - ${this.countsText()}`],
        ["Lost", lost.map((t) => t.key).join(", ")],
      ]);
    } else {
      const running = tracks.filter((t) => !settled(t)).length;
      this.human.entry(now, "MONITOR_STOPPED", how.timedOut ? "--timeout reached" : "--once", [
        ["Summary", `${running} of ${all.length} jobs not finished - ${this.countsText()}`],
        ["Next", "run slurm-poll again (state is kept in the state directory)"],
      ]);
    }
  }

  /** Writes out the --log entries gathered so far (appended as the log grows, not once per cycle). */
  async flush(): Promise<void> {
    await this.human.flush();
  }

  /** "3 PENDING, 1 RUNNING, 0 COMPLETED, ...": this session's jobs by state. */
  private countsText(): string {
    const c = new Map<string, number>([
      ["PENDING", 0],
      ["RUNNING", 0],
      ["COMPLETED", 0],
    ]);
    for (const { track } of this.registry.runs()) {
      const s = isBlocked(track) ? "BLOCKED" : (track.state?.state ?? "NOT_SEEN");
      c.set(s, (c.get(s) ?? 0) + 1);
    }
    return [...c].map(([s, n]) => `${n} ${s}`).join(", ");
  }
}

/**
 * 1 for bad input or any job that did not succeed, 3 (EXIT_RUNNING) while any is not terminal, else
 * 0. A blocked job (its dependency can never be satisfied) counts as a failure: 1, not 3.
 */
export function exitCode(badLines: number, runs: Iterable<TrackedRun>): number {
  if (badLines > 0) return 1;
  const tracks = [...runs].map((tr) => tr.track);
  if (tracks.some((t) => !isFinal(t) && !isBlocked(t))) return EXIT_RUNNING;
  if (tracks.some((t) => t.state?.category !== "success")) return 1;
  return 0;
}

/** ", waits on failed job 187" for a blocked state that names its upstream jobs. */
export function blockedByText(state: JobState | undefined): string {
  return state?.blocked_by?.length ? `, waits on failed job ${state.blocked_by.join(", ")}` : "";
}

/** A failed Slurm call in a few words: the kind and the last lines of its stderr. */
export function describe(e: unknown): string {
  if (e instanceof SlurmCommandError) return `${e.kind}: ${e.stderr.trim().split("\n").slice(-2).join(" | ") || `exit code ${e.exitCode}`}`;
  return (e as Error).message ?? String(e);
}

/** The command as the log shows it (core's shell quoting), with a long id list shortened. */
function commandLine(command: string, args: readonly string[]): string {
  const shown = (a: string) => (a.length > 80 && /^[\d_,+]+$/.test(a) ? `${a.split(",").slice(0, 5).join(",")},... (${a.split(",").length} ids)` : shellQuoteForDisplay(a));
  return [command, ...args.map(shown)].join(" ");
}
