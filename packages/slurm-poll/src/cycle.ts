import { type SlurmClientOptions, runSlurm } from "@slurmpipe/core";
import { type ApplyRules, type EarlyTail, applyDecision, earlyCheckDue } from "./apply.ts";
import { stderrPath, tailFile } from "./early.ts";
import { breakMissingClock } from "./lost.ts";
import { type AcctView, decide, needsAccounting, ourRow } from "./machine.ts";
import type { Registry } from "./registry.ts";
import { type Reporter, describe } from "./report.ts";
import { type SacctJob, parseSacct, sacctArgs } from "./sacct.ts";
import { SqueueIndex, type SqueueRow, squeueArgs } from "./squeue.ts";
import { type TrackedRun, earliestTime, isBlocked, isoTime } from "./track.ts";

/** How a cycle went: nothing to watch, answered, answered slowly, or a query failed (the last two back off). */
export type CycleOutcome = "idle" | "ok" | "slow" | "failed";

/** What a cycle needs of the poll's options. */
export interface CycleOptions extends ApplyRules {
  slurm: SlurmClientOptions;
  queryTimeoutMs?: number;
  slowMs?: number;
  cwd: string;
  earlyLines?: number;
  /** --cancel-unsatisfiable: scancel the blocked jobs (one call a cycle for all of them). */
  cancelUnsatisfiable?: boolean;
}

/** The sacct window opens a day before the earliest submit: clock skew and jobs held long. */
const DAY_MS = 86_400_000;

/**
 * One poll cycle: one squeue for every pending job, at most one sacct for those squeue no longer
 * lists (or that ended there), then per job `decide` and `applyDecision` (both pure) and the
 * report of what changed; the store is saved at the end. A failed squeue changes nothing; a
 * failed sacct leaves the jobs that left squeue as they were. The controller's load is one or two
 * calls a cycle, whatever the number of jobs.
 */
export class PollCycle {
  constructor(
    private readonly o: CycleOptions,
    private readonly registry: Registry,
    private readonly reporter: Reporter,
    private readonly now: () => Date,
  ) {}

  /** `calls` gets the Slurm commands run, in order (tests, and the cycle info). */
  async run(calls: string[]): Promise<CycleOutcome> {
    const pending = this.registry.pending();
    if (pending.length === 0) {
      await this.reporter.flush();
      return "idle";
    }
    const now = this.now();
    const slurm = { ...this.o.slurm, retry: false, timeoutMs: this.o.queryTimeoutMs ?? this.o.slurm.timeoutMs ?? 60_000 };
    const slowMs = this.o.slowMs ?? 10_000;
    const log = this.reporter.log;
    let slow = false;

    // 1. squeue: one call for every tracked job. If it fails, nothing changes.
    const sqArgs = squeueArgs(pending.map((tr) => tr.track.queryId));
    calls.push("squeue");
    let squeue: SqueueIndex;
    const t0 = Date.now();
    try {
      const res = await runSlurm("squeue", sqArgs, slurm);
      squeue = new SqueueIndex(res.stdout);
      for (const s of squeue.skipped) log.warn(`squeue: ${s}`);
    } catch (e) {
      return this.failedQuery("squeue", sqArgs, e, pending);
    }
    if (Date.now() - t0 > slowMs) slow = true;

    // 2. sacct: at most one call, for the jobs squeue no longer lists (or that ended there). Their
    // rows are kept for step 3; the others' are parsed again there (not all held at once).
    const acctRows = new Map<TrackedRun, SqueueRow[] | undefined>();
    for (const tr of pending) {
      const rows = squeue.rows(tr.track.key);
      if (needsAccounting(ourRow(tr.track, rows).row)) acctRows.set(tr, rows);
    }
    const needAcct = [...acctRows.keys()];
    let acct: { ok: true; jobs: Map<string, SacctJob> } | { ok: false } | undefined;
    let acctFailure: string | undefined;
    if (needAcct.length > 0) {
      const earliest = earliestTime(
        needAcct.map((tr) => tr.track),
        now.getTime(),
      );
      const acArgs = sacctArgs(
        needAcct.map((tr) => tr.track.queryId),
        new Date(earliest - DAY_MS),
      );
      calls.push("sacct");
      const t1 = Date.now();
      try {
        const res = await runSlurm("sacct", acArgs, slurm);
        const parsed = parseSacct(res.stdout);
        for (const s of parsed.skipped) log.warn(`sacct: ${s}`);
        acct = { ok: true, jobs: parsed.jobs };
      } catch (e) {
        acct = { ok: false };
        acctFailure = describe(e);
        log.warn(`sacct failed, the ${needAcct.length} job(s) that left squeue keep their last state: ${acctFailure}`);
      }
      if (Date.now() - t1 > slowMs) slow = true;
    }

    // 3. decide and apply per job, and report what changed.
    for (const tr of pending) {
      let view: AcctView = { status: "not-asked" };
      const asked = acctRows.has(tr);
      if (asked && acct) {
        if (acct.ok) {
          const job = acct.jobs.get(tr.track.key);
          view = job ? { status: "ok", job } : { status: "ok" };
        } else view = { status: "failed" };
      }
      const rows = asked ? acctRows.get(tr) : squeue.rows(tr.track.key);
      const d = decide(tr.track, rows, view, now);
      const early = earlyCheckDue(tr.track, d, this.o.earlyMs) ? await this.readEarlyTail(tr) : undefined;
      for (const effect of applyDecision(tr.track, d, now, this.o, this.registry.pool, early)) await this.reporter.effect(tr, effect, now);
    }
    this.reporter.statusCheck(now, sqArgs, acctFailure);
    if (this.o.cancelUnsatisfiable) await this.cancelBlocked(pending, now, slurm, calls);
    await this.registry.save();
    await this.reporter.flush();
    if (acct && !acct.ok) return "failed";
    return slow ? "slow" : "ok";
  }

  private async failedQuery(command: string, args: string[], e: unknown, pending: TrackedRun[]): Promise<CycleOutcome> {
    const why = describe(e);
    this.reporter.log.warn(`${command} failed; nothing changes for the ${pending.length} tracked job(s): ${why}`);
    // No answer: the --lost-after clocks must not run across this cycle, even if poll is killed before the next save.
    const running = pending.filter((tr) => tr.track.missingCheckedAt !== undefined);
    for (const tr of running) breakMissingClock(tr.track);
    if (running.length > 0) await this.registry.save();
    this.reporter.queryFailed(this.now(), command, args, why);
    await this.reporter.flush();
    return "failed";
  }

  /**
   * --cancel-unsatisfiable: one scancel for every job found blocked (and not asked to cancel yet).
   * Slurm then reports them CANCELLED, which the next cycle sees; a failed scancel is reported and
   * not repeated (the job then stays blocked, as Slurm keeps it).
   */
  private async cancelBlocked(pending: TrackedRun[], now: Date, slurm: SlurmClientOptions, calls: string[]): Promise<void> {
    const targets = pending.filter((tr) => isBlocked(tr.track) && tr.track.cancelRequestedAt === undefined);
    if (targets.length === 0) return;
    const ids = targets.map((tr) => tr.track.key);
    calls.push("scancel");
    let failure: string | undefined;
    try {
      await runSlurm("scancel", ids, slurm);
    } catch (e) {
      failure = describe(e);
    }
    for (const tr of targets) tr.track.cancelRequestedAt = isoTime(now);
    this.reporter.cancelledBlocked(now, targets, ids, failure);
  }

  /** The last lines of an early failure's stderr file, or why it could not be read. */
  private async readEarlyTail(tr: TrackedRun): Promise<EarlyTail> {
    const path = stderrPath(await this.registry.record(tr), tr.track, this.o.cwd);
    try {
      return { path, tail: await tailFile(path, this.o.earlyLines ?? 20) };
    } catch (e) {
      return { path, tail: [], error: `cannot read ${path}: ${(e as Error).message}` };
    }
  }
}
