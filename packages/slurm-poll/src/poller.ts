import { join } from "node:path";
import {
  ErrorCounter,
  type JobEvent,
  type JobState,
  type Logger,
  NdjsonWriter,
  type RunRecord,
  ScratchTexts,
  StringPool,
  type SlurmClientOptions,
  SlurmCommandError,
  lockStateDir,
  readNdjson,
  runSlurm,
} from "@slurmpipe/core";
import { stderrPath, tailFile } from "./early.ts";
import { HumanLog, humanElapsed, logTime } from "./humanlog.ts";
import type { TrackedId } from "./ids.ts";
import { LedgerFollower, classify } from "./inputs.ts";
import { DEFAULT_LOST_AFTER_MS, LOST_FLAG, breakMissingClock, isLost, markLost, updateMissingClock } from "./lost.ts";
import { type AcctView, type Decision, decide, needsAccounting, ourRow } from "./machine.ts";
import { type SacctJob, parseSacct, sacctArgs } from "./sacct.ts";
import { SqueueIndex, type SqueueRow, squeueArgs } from "./squeue.ts";
import { POLL_DIR, PollStore } from "./store.ts";
import { type Track, type TrackedRun, isFinal, newTrack, storeKey } from "./track.ts";

export interface PollOptions {
  /** State directory (slurm-submit's; poll keeps its own files in <state>/poll/). */
  state: string;
  /** Track the ledger's jobs: true, false, or "auto" = only when stdin brought no record at all. */
  ledger: boolean | "auto";
  /** Submitted run records; null when stdin is not read (a terminal). */
  stdin: AsyncIterable<Buffer | string> | null;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  log: Logger;
  cwd: string;
  intervalMs: number;
  /** Cap of the backoff when the controller is slow or failing. */
  maxBackoffMs: number;
  once: boolean;
  timeoutMs?: number;
  maxRequeues?: number;
  /** A job missing from squeue and sacct this long (answered queries only) is lost; 0 disables. Default 30 min. */
  lostAfterMs?: number;
  earlyMs?: number;
  earlyLines?: number;
  logFile?: string;
  strict?: boolean;
  /** Time limit of one squeue/sacct call. */
  queryTimeoutMs?: number;
  slurm: SlurmClientOptions;
  /** A query slower than this counts as a struggling controller (backoff). */
  slowMs?: number;
  now?: () => Date;
  /** Called after each cycle (tests). */
  onCycle?: (info: CycleInfo) => void;
}

export interface CycleInfo {
  /** 1, 2, ...: cycles that queried Slurm (idle ones, with nothing to watch, are not counted). */
  cycle: number;
  /** Slurm commands run in this cycle, in order. */
  calls: string[];
  outcome: CycleOutcome;
}

type CycleOutcome = "idle" | "ok" | "slow" | "failed";

/** Exit code 3: jobs still running (or UNKNOWN, or lost) after --once, --timeout or a watch that ended on lost jobs. */
export const EXIT_RUNNING = 3;

const DAY_MS = 86_400_000;

export async function poll(options: PollOptions): Promise<number> {
  const release = await lockStateDir(join(options.state, POLL_DIR));
  try {
    return await new Poller(options, release.assertHeld).run();
  } finally {
    await release().catch(() => {});
  }
}

class Poller {
  private readonly out: NdjsonWriter;
  private readonly errors: ErrorCounter;
  private readonly store: PollStore;
  private readonly human: HumanLog;
  private readonly now: () => Date;
  private tracks = new Map<string, Track>();
  /** The tracked runs' records as JSON text, out of memory until they are written out. */
  private spill!: ScratchTexts;
  /** Jobs tracked in this session, in arrival order (by track: no second copy of each store key). */
  private readonly active = new Map<Track, TrackedRun>();
  /**
   * Job key -> the run id(s) tracked under it: a job claimed by two runs is warned about (O(1) per
   * record). Almost every job has one run: a plain string then, not a Set per job (~200 bytes each).
   */
  private readonly runsByJob = new Map<string, string | string[]>();
  /** One copy of the strings many tracks repeat (array ids, job names, times, reasons). */
  private readonly pool = new StringPool();
  private stdinDone = false;
  private stdinRecords = 0;
  private inputError: unknown;
  private useLedger: boolean;
  private ledger: LedgerFollower | undefined;
  private wake: (() => void) | undefined;
  private idle = true;
  private cycles = 0;
  private readonly startedAt: Date;
  private readonly lostAfterMs: number;

  constructor(
    private readonly o: PollOptions,
    assertLockHeld: () => void,
  ) {
    this.out = new NdjsonWriter(o.stdout as NodeJS.WritableStream);
    this.errors = new ErrorCounter("slurm-poll", o.stderr);
    this.store = new PollStore(join(o.state, POLL_DIR));
    this.store.guard = assertLockHeld;
    this.human = new HumanLog(o.logFile);
    this.now = o.now ?? (() => new Date());
    this.useLedger = o.ledger === true;
    this.startedAt = this.now();
    this.lostAfterMs = o.lostAfterMs ?? DEFAULT_LOST_AFTER_MS;
  }

  async run(): Promise<number> {
    this.tracks = await this.store.load(this.pool);
    this.spill = await ScratchTexts.open(this.store.dir, "records");
    try {
      return await this.watch();
    } finally {
      await this.spill.close();
    }
  }

  private async watch(): Promise<number> {
    const reading = this.readStdin();
    if (this.o.once) {
      await reading;
      this.checkInput();
      const calls: string[] = [];
      const outcome = await this.cycle(calls);
      this.o.onCycle?.({ cycle: this.cycles, calls, outcome });
      for (const tr of this.active.values()) await this.emitRecord(tr);
      await this.finish(false);
      return this.exitCode();
    }
    let failures = 0;
    let timedOut = false;
    for (;;) {
      this.checkInput();
      const calls: string[] = [];
      const outcome = await this.cycle(calls);
      if (outcome !== "idle") this.o.onCycle?.({ cycle: this.cycles, calls, outcome });
      this.checkInput();
      if (outcome === "failed" || outcome === "slow") failures += 1;
      else if (outcome === "ok") failures = 0;
      if (this.stdinDone && this.allSettled()) break;
      const elapsed = this.now().getTime() - this.startedAt.getTime();
      if (this.o.timeoutMs !== undefined && elapsed >= this.o.timeoutMs) {
        timedOut = true;
        break;
      }
      let delay = Math.min(this.o.maxBackoffMs, this.o.intervalMs * 2 ** failures);
      if (failures > 0) this.o.log.warn(`next query in ${humanElapsed(delay / 1000)} (backing off: the controller is ${outcome === "slow" ? "slow" : "failing"})`);
      if (this.o.timeoutMs !== undefined) delay = Math.max(0, Math.min(delay, this.o.timeoutMs - elapsed));
      this.idle = outcome === "idle";
      await this.sleep(delay);
    }
    await reading;
    this.checkInput();
    // Lost jobs end the watch with their current record (a job lost in an earlier poll, too).
    for (const tr of this.active.values()) if (timedOut || isLost(tr.track, this.lostAfterMs)) await this.emitRecord(tr);
    await this.finish(timedOut);
    return this.exitCode();
  }

  // ---- inputs ---------------------------------------------------------------------------------

  private async readStdin(): Promise<void> {
    try {
      if (this.o.stdin) {
        const reader = readNdjson<Record<string, unknown>>(this.o.stdin, { source: "stdin", strict: this.o.strict, onError: this.errors.report });
        for await (const item of reader) {
          this.stdinRecords += 1;
          await this.accept(item.value, "stdin", item.line);
        }
      }
      if (this.o.ledger === "auto" && this.stdinRecords === 0) this.useLedger = true;
      if (this.useLedger) await this.readLedger();
    } catch (e) {
      this.inputError = e;
    } finally {
      this.stdinDone = true;
      this.wake?.();
    }
  }

  private checkInput(): void {
    if (this.inputError) {
      const e = this.inputError;
      this.inputError = undefined;
      throw e;
    }
  }

  /** slurm-submit's ledger: read whole at first, then (a watch, every cycle) what was appended since. */
  private async readLedger(): Promise<void> {
    this.ledger ??= new LedgerFollower(join(this.o.state, "ledger.ndjson"));
    for await (const { record, line } of this.ledger.records()) await this.accept(record, this.ledger.path, line);
    if (this.o.once) this.ledger = undefined; // read once: its index of runs is not needed again
  }

  private async accept(value: Record<string, unknown>, source: string, line: number): Promise<void> {
    const c = classify(value);
    if (c.kind === "pass") {
      if (c.warning) this.o.log.warn(`${source}:${line}: ${c.warning}`);
      await this.out.write(c.value);
      return;
    }
    if (c.kind === "bad") {
      this.errors.report({ source, line, ...(c.field ? { field: c.field } : {}), message: c.message });
      if (this.o.strict) throw new Error(`${source}:${line}: ${c.message} (stopped: --strict)`);
      return;
    }
    await this.track(c.record, c.id);
  }

  private async track(record: RunRecord, id: TrackedId): Promise<void> {
    const sk = storeKey(id.key, record);
    let t = this.tracks.get(sk);
    const known = t && this.active.get(t);
    if (known) {
      // The same job again (ledger and stdin): keep the newest copy.
      known.record = await this.spill.put(JSON.stringify(record));
      known.name = record.name;
      return;
    }
    const claimants = this.runsByJob.get(id.key);
    if (claimants === undefined) this.runsByJob.set(id.key, record.id);
    else {
      const others = typeof claimants === "string" ? [claimants] : claimants;
      for (const other of others) {
        if (other !== record.id) this.o.log.warn(`job ${id.key} is claimed by runs ${other} and ${record.id}; the job name decides which one it is`);
      }
      if (!others.includes(record.id)) this.runsByJob.set(id.key, [...others, record.id]);
    }
    if (!t) {
      t = newTrack(id, record, this.now(), this.pool);
      this.tracks.set(sk, t);
    }
    const tr: TrackedRun = { track: t, record: await this.spill.put(JSON.stringify(record)), name: record.name, emitted: false };
    this.active.set(t, tr);
    if (!t.loggedSubmit) {
      const job = record.job!;
      this.human.entry(this.now(), "SUBMIT_JOB", record.name, [
        ["Command", job.argv ? `${record.script?.path ? `cd ${record.script.path.replace(/\/[^/]*$/, "") || "."} && ` : ""}${job.argv.join(" ")}` : undefined],
        ["Result", `Job ID ${t.key} submitted at ${logTime(job.submitted_at) ?? "an unknown time"}`],
      ]);
      t.loggedSubmit = true;
    }
    // Final in an earlier run of poll: its record goes on downstream now, its events are not repeated.
    if (isFinal(t) && !this.o.once) await this.emitRecord(tr);
    if (this.idle) this.wake?.();
  }

  // ---- one cycle ------------------------------------------------------------------------------

  private async cycle(calls: string[] = []): Promise<CycleOutcome> {
    if (this.useLedger && this.stdinDone && !this.o.once) await this.readLedger();
    const pending: TrackedRun[] = [];
    for (const tr of this.active.values()) if (!isFinal(tr.track)) pending.push(tr);
    if (pending.length === 0) {
      await this.human.flush();
      return "idle";
    }
    this.cycles += 1;
    const now = this.now();
    const slurm = { ...this.o.slurm, retry: false, timeoutMs: this.o.queryTimeoutMs ?? this.o.slurm.timeoutMs ?? 60_000 };
    const slowMs = this.o.slowMs ?? 10_000;
    let slow = false;

    // 1. squeue: one call for every tracked job. If it fails, nothing changes.
    const sqArgs = squeueArgs(pending.map((tr) => tr.track.queryId));
    calls.push("squeue");
    let squeue: SqueueIndex;
    const t0 = Date.now();
    try {
      const res = await runSlurm("squeue", sqArgs, slurm);
      squeue = new SqueueIndex(res.stdout);
      for (const s of squeue.skipped) this.o.log.warn(`squeue: ${s}`);
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
      const earliest = earliestTime(needAcct.map((tr) => tr.track), now.getTime());
      const acArgs = sacctArgs(
        needAcct.map((tr) => tr.track.queryId),
        new Date(earliest - DAY_MS),
      );
      calls.push("sacct");
      const t1 = Date.now();
      try {
        const res = await runSlurm("sacct", acArgs, slurm);
        const parsed = parseSacct(res.stdout);
        for (const s of parsed.skipped) this.o.log.warn(`sacct: ${s}`);
        acct = { ok: true, jobs: parsed.jobs };
      } catch (e) {
        acct = { ok: false };
        acctFailure = describe(e);
        this.o.log.warn(`sacct failed, the ${needAcct.length} job(s) that left squeue keep their last state: ${acctFailure}`);
      }
      if (Date.now() - t1 > slowMs) slow = true;
    }

    // 3. decide per job.
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
      await this.apply(tr, decide(tr.track, rows, view, now), now);
    }
    this.statusCheck(now, sqArgs, acctFailure);
    await this.store.save(this.tracks, now);
    await this.human.flush();
    if (acct && !acct.ok) return "failed";
    return slow ? "slow" : "ok";
  }

  private async failedQuery(command: string, args: string[], e: unknown, pending: TrackedRun[]): Promise<CycleOutcome> {
    const why = describe(e);
    this.o.log.warn(`${command} failed; nothing changes for the ${pending.length} tracked job(s): ${why}`);
    // No answer: the --lost-after clocks must not run across this cycle, even if poll is killed before the next save.
    const running = pending.filter((tr) => tr.track.missingCheckedAt !== undefined);
    for (const tr of running) breakMissingClock(tr.track);
    if (running.length > 0) await this.store.save(this.tracks, this.now());
    this.human.entry(this.now(), "STATUS_CHECK", "Polling SLURM", [
      ["Command", commandLine(command, args)],
      ["Result", `query failed (${why}); no state changed`],
    ]);
    await this.human.flush();
    return "failed";
  }

  private async apply(tr: TrackedRun, d: Decision, now: Date): Promise<void> {
    const t = tr.track;
    if (d.reused && !t.warnedReuse) {
      this.o.log.warn(`job ${t.key} of run ${t.runId}: ${d.reused}: not our job (job id reused after a controller restart?); treated as absent`);
      t.warnedReuse = true;
    }
    if (d.rawId) t.rawId = this.pool.get(d.rawId);
    if (d.seenSubmitAt) t.seenSubmitAt = this.pool.get(d.seenSubmitAt);
    if (d.restarts !== undefined) t.restarts = Math.max(t.restarts, d.restarts);
    if (d.requeuePending !== undefined) t.requeuePending = d.requeuePending;
    if (d.finalSeenAt !== undefined) t.finalSeenAt = d.finalSeenAt;
    updateMissingClock(t, d.presence, now);
    const state = d.state;
    if (!state) return;
    if (state.reason) state.reason = this.pool.get(state.reason);
    if (state.node_list) state.node_list = this.pool.get(state.node_list);
    if (state.source !== "none") {
      t.lastSeenAt = this.pool.get(state.confirmed_at ?? now.toISOString());
      t.lastKnownState = state.state;
    }
    state.restarts = Math.max(state.restarts ?? 0, t.restarts);
    if (this.o.maxRequeues !== undefined && state.restarts > this.o.maxRequeues) {
      if (!t.flagged) {
        this.o.log.warn(`${tr.name} (job ${t.key}) was requeued ${state.restarts} times, more than --max-requeues ${this.o.maxRequeues}`);
        this.human.entry(now, "REQUEUE_LIMIT", tr.name, [
          ["Job ID", t.key],
          ["Restarts", state.restarts],
          ["Limit", this.o.maxRequeues],
        ]);
      }
      t.flagged = true;
    }
    if (t.flagged) state.flag = "too_many_requeues";
    const wasLost = t.state?.flag === LOST_FLAG;
    const lost = isLost(t, this.lostAfterMs);
    if (lost) markLost(state, t); // the flag of the moment wins over too_many_requeues
    if (state.terminal && state.category === "failure") await this.checkEarly(tr, state, now);
    else if (t.state?.early_failure) state.early_failure = t.state.early_failure;
    const prev = t.state;
    // Unchanged but for its time: the stored object is kept (a new one per job and cycle was
    // ~15 MB of old-generation garbage a cycle at 100,000 jobs).
    if (prev && sameState(prev, state)) {
      if (state.confirmed_at !== undefined) prev.confirmed_at = state.confirmed_at;
    } else t.state = state;
    if (prev?.state !== state.state) await this.event(tr, prev, state, now);
    if (lost) await this.reportLost(tr, state, !wasLost, now);
    else if (wasLost && d.presence === "present") {
      this.o.log.info(`${tr.name} (job ${t.key}), reported lost, is listed again (${state.state}): tracked again`);
      tr.emitted = false; // its final record is still to come
    }
    if (state.terminal && !this.o.once) await this.emitRecord(tr);
  }

  /** A lost job: warned about and logged once, its record written once, no longer waited for. */
  private async reportLost(tr: TrackedRun, state: JobState, newlyLost: boolean, now: Date): Promise<void> {
    const t = tr.track;
    if (newlyLost) {
      this.o.log.warn(`${tr.name} (job ${t.key}) ${state.reason}; it stays UNKNOWN (flag "lost"), exit code 3`);
      this.human.entry(now, "JOB_LOST", tr.name, [
        ["Job ID", t.key],
        ["Missing", `${humanElapsed((t.missingMs ?? 0) / 1000)} from squeue and sacct (answered queries only)`],
        ["Last seen", t.lastSeenAt ? `${t.lastKnownState ?? "?"} at ${logTime(t.lastSeenAt)}` : "never"],
        ["Result", "no longer waited for; state UNKNOWN, flag lost"],
      ]);
    }
    if (!this.o.once) await this.emitRecord(tr);
  }

  private async checkEarly(tr: TrackedRun, state: JobState, now: Date): Promise<void> {
    const t = tr.track;
    if (this.o.earlyMs === undefined) return;
    if (t.earlyChecked) {
      if (t.state?.early_failure) state.early_failure = t.state.early_failure;
      return;
    }
    t.earlyChecked = true;
    const ran = state.elapsed_s ?? 0;
    if (ran * 1000 > this.o.earlyMs) return;
    const path = stderrPath((JSON.parse(await this.spill.get(tr.record)) as RunRecord), t, this.o.cwd);
    let tail: string[] = [];
    let error: string | undefined;
    try {
      tail = await tailFile(path, this.o.earlyLines ?? 20);
    } catch (e) {
      error = `cannot read ${path}: ${(e as Error).message}`;
    }
    state.early_failure = { elapsed_s: ran, path, tail, ...(error ? { error } : {}) };
    const head = `early failure: ${tr.name} (job ${t.key}) ${state.state}${state.exit_code ? ` ${state.exit_code}` : ""} after ${humanElapsed(ran)}`;
    this.o.log.warn(error ? `${head}; ${error}` : `${head}; last lines of ${path}:\n${tail.map((l) => `    ${l}`).join("\n")}`);
    this.human.entry(now, "EARLY_FAILURE", tr.name, [
      ["Job ID", t.key],
      ["State", `${state.state}${state.exit_code ? ` (exit ${state.exit_code})` : ""} after ${humanElapsed(ran)}`],
      ["Stderr", path],
      ["Tail", error ?? (tail.length ? `\n${tail.join("\n")}` : "(empty)")],
    ]);
  }

  private async event(tr: TrackedRun, prev: JobState | undefined, state: JobState, now: Date): Promise<void> {
    const t = tr.track;
    const ev: JobEvent = { kind: "event", v: 1, job_id: t.key, from: prev?.state ?? null, to: state.state, at: now.toISOString() };
    if (t.runId) ev.run_id = t.runId;
    if (tr.name) ev.name = tr.name;
    if (t.arrayTask !== undefined) ev.array_task = t.arrayTask;
    if (state.reason) ev.reason = state.reason;
    if (state.exit_code) ev.exit_code = state.exit_code;
    if (state.elapsed_s !== undefined) ev.elapsed_s = state.elapsed_s;
    if (state.node_list) ev.node_list = state.node_list;
    ev.restarts = state.restarts ?? t.restarts;
    await this.out.write(ev);
    this.human.entry(now, "STATE_CHANGE", tr.name, [
      ["Job ID", t.key],
      ["Previous", prev?.state ?? "(not seen yet)"],
      ["Current", state.state],
      ["Reason", state.reason],
      ["Started", state.category === "active" || state.terminal ? logTime(state.started_at) : undefined],
      ["Completed", state.terminal ? logTime(state.ended_at) : undefined],
      ["Elapsed", state.terminal && state.elapsed_s !== undefined ? humanElapsed(state.elapsed_s) : undefined],
      ["Exit code", state.terminal ? state.exit_code : undefined],
      ["Restarts", state.restarts ? state.restarts : undefined],
    ]);
  }

  private async emitRecord(tr: TrackedRun): Promise<void> {
    if (tr.emitted) return;
    tr.emitted = true;
    if (isFinal(tr.track)) tr.track.finalEmitted = true;
    const state = tr.track.state;
    // The raw id of a started array task is what sbatch's %j expands to in its log paths.
    const rawId = tr.track.rawId;
    // A fresh copy, so it is set in place (same keys, same order as a spread): V8 allocates the
    // spread copies of 100,000 big records straight in the old generation (~40 MB of garbage).
    const record = JSON.parse(await this.spill.get(tr.record)) as RunRecord;
    if (rawId && record.job && rawId !== record.job.id) record.job.raw_id = rawId;
    if (state) record.state = state;
    await this.out.write(record);
  }

  // ---- reporting ------------------------------------------------------------------------------

  private counts(): Map<string, number> {
    const c = new Map<string, number>([
      ["PENDING", 0],
      ["RUNNING", 0],
      ["COMPLETED", 0],
    ]);
    for (const { track } of this.active.values()) {
      const s = track.state?.state ?? "NOT_SEEN";
      c.set(s, (c.get(s) ?? 0) + 1);
    }
    return c;
  }

  private statusCheck(now: Date, args: string[], acctFailure: string | undefined): void {
    const counts = [...this.counts()].map(([s, n]) => `${n} ${s}`).join(", ");
    this.human.entry(now, "STATUS_CHECK", "Polling SLURM", [
      ["Command", commandLine("squeue", args)],
      ["Result", `${this.active.size} jobs found - ${counts}`],
      ["Note", acctFailure ? `sacct failed (${acctFailure}); jobs that left squeue keep their last state` : undefined],
    ]);
  }

  private async finish(timedOut: boolean): Promise<void> {
    const now = this.now();
    const all = [...this.active.values()].map((tr) => tr.track);
    if (all.length === 0) {
      this.o.log.warn(this.useLedger ? `no submitted jobs to poll (stdin empty, nothing in ${join(this.o.state, "ledger.ndjson")})` : "no submitted jobs to poll");
    } else if (all.every(isFinal)) {
      const ok = all.filter((t) => t.state?.category === "success").length;
      const failed = all.filter((t) => t.state?.category !== "success");
      const byState = new Map<string, number>();
      for (const t of failed) byState.set(t.state!.state, (byState.get(t.state!.state) ?? 0) + 1);
      const detail = byState.size ? ` (${[...byState].map(([s, n]) => `${n} ${s}`).join(", ")})` : "";
      const first = earliestTime(all, Number.POSITIVE_INFINITY);
      this.human.entry(now, "ALL_COMPLETE", "Monitoring finished", [
        ["Summary", `${all.length} jobs completed - ${ok} COMPLETED, ${failed.length} FAILED${detail}`],
        ["Total time", Number.isFinite(first) ? humanElapsed((now.getTime() - first) / 1000) : undefined],
      ]);
    } else if (!timedOut && !this.o.once) {
      // The watch ended on its own: the jobs not terminal are lost.
      const lost = all.filter((t) => !isFinal(t));
      this.o.log.warn(`watch ended: ${lost.length} of ${all.length} job(s) lost (${lost.map((t) => t.key).join(", ")}), the others ended`);
      this.human.entry(now, "MONITOR_STOPPED", "jobs lost", [
        ["Summary", `${lost.length} of ${all.length} jobs lost (missing from squeue and sacct) - ${[...this.counts()].map(([s, n]) => `${n} ${s}`).join(", ")}`],
        ["Lost", lost.map((t) => t.key).join(", ")],
      ]);
    } else {
      const running = all.filter((t) => !isFinal(t)).length;
      this.human.entry(now, "MONITOR_STOPPED", timedOut ? "--timeout reached" : "--once", [
        ["Summary", `${running} of ${all.length} jobs not finished - ${[...this.counts()].map(([s, n]) => `${n} ${s}`).join(", ")}`],
        ["Next", "run slurm-poll again (state is kept in the state directory)"],
      ]);
    }
    await this.human.flush();
    await this.store.save(this.tracks, now);
  }

  /** Nothing left to wait for: every job is terminal or lost. */
  private allSettled(): boolean {
    for (const tr of this.active.values()) if (!isFinal(tr.track) && !isLost(tr.track, this.lostAfterMs)) return false;
    return true;
  }

  private exitCode(): number {
    if (this.errors.count > 0) return 1;
    const tracks = [...this.active.values()].map((tr) => tr.track);
    if (tracks.some((t) => !isFinal(t))) return EXIT_RUNNING;
    if (tracks.some((t) => t.state?.category !== "success")) return 1;
    return 0;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        this.wake = undefined;
        // A burst of records (a pipe) arrives over a moment: gather it before querying.
        setTimeout(resolve, 50);
      };
      timer = setTimeout(done, ms);
      this.wake = done;
      if (this.stdinDone && this.allSettled()) done();
    });
  }
}

/** The same fields in the same order with the same values, confirmed_at aside. */
function sameState(a: JobState, b: JobState): boolean {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i] as keyof JobState;
    if (k !== kb[i] || (k !== "confirmed_at" && a[k] !== b[k])) return false;
  }
  return true;
}

/** The earliest submit (or tracking) time, in ms; a loop, as Math.min(...times) overflows the stack past ~120,000 jobs. */
function earliestTime(tracks: readonly Track[], atMost: number): number {
  let earliest = atMost;
  for (const t of tracks) {
    const ms = Date.parse(t.submittedAt ?? t.trackedAt);
    if (ms < earliest) earliest = ms;
  }
  return earliest;
}

function describe(e: unknown): string {
  if (e instanceof SlurmCommandError) return `${e.kind}: ${e.stderr.trim().split("\n").slice(-2).join(" | ") || `exit code ${e.exitCode}`}`;
  return (e as Error).message ?? String(e);
}

/** The command as the log shows it, with a long id list shortened. */
function commandLine(command: string, args: readonly string[]): string {
  return [command, ...args.map((a) => (a.length > 80 && /^[\d_,+]+$/.test(a) ? `${a.split(",").slice(0, 5).join(",")},... (${a.split(",").length} ids)` : /[\s|'%]/.test(a) ? `'${a}'` : a))].join(" ");
}
