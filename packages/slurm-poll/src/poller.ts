import { join } from "node:path";
import { ErrorCounter, type Logger, type SlurmClientOptions, lockStateDir } from "@slurmpipe/core";
import { type CycleOutcome, PollCycle } from "./cycle.ts";
import { humanElapsed } from "./humanlog.ts";
import { Intake } from "./intake.ts";
import { DEFAULT_LOST_AFTER_MS, isLost } from "./lost.ts";
import { Registry } from "./registry.ts";
import { Reporter, exitCode } from "./report.ts";
import { isBlocked } from "./track.ts";
import { Progress } from "./progress.ts";
import { POLL_DIR, PollStore } from "./store.ts";

export { EXIT_RUNNING } from "./report.ts";

/**
 * slurm-poll's watch loop: the one place that knows about time. It starts the input reading
 * (intake.ts), runs cycles (cycle.ts) at the interval, backs off while the controller is slow or
 * failing, sleeps until the next cycle or until a job arrives, and stops when every job is settled,
 * at --timeout, or after one cycle with --once; then the summary and the exit code (report.ts).
 */
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
  /** --cancel-unsatisfiable: scancel jobs whose dependency can never be satisfied (blocked). */
  cancelUnsatisfiable?: boolean;
  /** --progress: off a terminal, a summary line on stderr at most this often (ms). */
  progressMs?: number;
  /** stderr is a terminal: a live summary line, redrawn in place (core's logger progress line). */
  liveProgress?: boolean;
}

export interface CycleInfo {
  /** 1, 2, ...: cycles that queried Slurm (idle ones, with nothing to watch, are not counted). */
  cycle: number;
  /** Slurm commands run in this cycle, in order. */
  calls: string[];
  outcome: CycleOutcome;
}

export async function poll(options: PollOptions): Promise<number> {
  const release = await lockStateDir(join(options.state, POLL_DIR));
  try {
    // --timeout counts from here: loading a big store is part of the watch's time.
    const startedAt = (options.now ?? (() => new Date()))();
    const store = new PollStore(join(options.state, POLL_DIR));
    store.guard = release.assertHeld;
    const registry = await Registry.open(store);
    try {
      return await new Poller(options, registry, startedAt).run();
    } finally {
      await registry.close();
    }
  } finally {
    await release().catch(() => {});
  }
}

class Poller {
  private readonly errors: ErrorCounter;
  private readonly reporter: Reporter;
  private readonly intake: Intake;
  private readonly cycle: PollCycle;
  private readonly now: () => Date;
  private readonly lostAfterMs: number;
  private readonly progress: Progress;
  /** Ends the current sleep early (a job arrived, or the input ended). */
  private wake: (() => void) | undefined;
  /** The last cycle had nothing to watch: a job that arrives starts the next one at once. */
  private idle = true;
  private cycles = 0;

  constructor(
    private readonly o: PollOptions,
    private readonly registry: Registry,
    private readonly startedAt: Date,
  ) {
    this.now = o.now ?? (() => new Date());
    this.lostAfterMs = o.lostAfterMs ?? DEFAULT_LOST_AFTER_MS;
    this.errors = new ErrorCounter("slurm-poll", o.stderr);
    this.reporter = new Reporter(o, registry);
    this.intake = new Intake(o, registry, this.reporter, this.errors, this.now, {
      arrived: () => {
        if (this.idle) this.wake?.();
      },
      ended: () => this.wake?.(),
    });
    this.cycle = new PollCycle({ ...o, lostAfterMs: this.lostAfterMs }, registry, this.reporter, this.now);
    this.progress = new Progress(o, registry, this.now);
  }

  /** Nothing left to wait for (blocked jobs count, see blockedSettled). */
  private settled(): boolean {
    return this.registry.settled(this.lostAfterMs, this.o.cancelUnsatisfiable ?? false);
  }

  async run(): Promise<number> {
    const reading = this.intake.read();
    if (this.o.once) {
      await reading;
      this.intake.rethrow();
      const { calls, outcome } = await this.runCycle();
      this.o.onCycle?.({ cycle: this.cycles, calls, outcome });
      for (const tr of this.registry.runs()) await this.reporter.emitRecord(tr);
      return this.finish(false);
    }
    let failures = 0;
    let timedOut = false;
    for (;;) {
      this.intake.rethrow();
      const { calls, outcome } = await this.runCycle();
      if (outcome !== "idle") this.o.onCycle?.({ cycle: this.cycles, calls, outcome });
      this.intake.rethrow();
      if (outcome === "failed" || outcome === "slow") failures += 1;
      else if (outcome === "ok") failures = 0;
      if (this.intake.done && this.settled()) break;
      const elapsed = this.now().getTime() - this.startedAt.getTime();
      if (this.o.timeoutMs !== undefined && elapsed >= this.o.timeoutMs) {
        timedOut = true;
        break;
      }
      let delay = Math.min(this.o.maxBackoffMs, this.o.intervalMs * 2 ** failures);
      if (failures > 0) this.o.log.warn(`next query in ${humanElapsed(delay / 1000)} (backing off: the controller is ${outcome === "slow" ? "slow" : "failing"})`);
      if (this.o.timeoutMs !== undefined) delay = Math.max(0, Math.min(delay, this.o.timeoutMs - elapsed));
      this.idle = outcome === "idle";
      if (outcome !== "idle") this.progress.cycleEnded(delay);
      await this.sleep(delay);
    }
    await reading;
    this.intake.rethrow();
    // Lost and blocked jobs end the watch with their current record (one lost or blocked in an earlier poll, too).
    for (const tr of this.registry.runs()) if (timedOut || isLost(tr.track, this.lostAfterMs) || isBlocked(tr.track)) await this.reporter.emitRecord(tr);
    return this.finish(timedOut);
  }

  /** A watch reads what the ledger gained first; cycles that queried Slurm are counted. */
  private async runCycle(): Promise<{ calls: string[]; outcome: CycleOutcome }> {
    await this.intake.catchUp();
    await this.reporter.closeBatch(this.now(), this.intake.done);
    const calls: string[] = [];
    const outcome = await this.cycle.run(calls);
    if (outcome !== "idle") this.cycles += 1;
    return { calls, outcome };
  }

  private async finish(timedOut: boolean): Promise<number> {
    this.progress.stop();
    await this.reporter.closeBatch(this.now(), true);
    const noJobs = this.intake.useLedger ? `no submitted jobs to poll (stdin empty, nothing in ${this.intake.ledgerPath})` : "no submitted jobs to poll";
    this.reporter.finish(this.now(), { timedOut, noJobs });
    await this.reporter.flush();
    await this.registry.save();
    return exitCode(this.errors.count, this.registry.runs());
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
      if (this.intake.done && this.settled()) done();
    });
  }
}
