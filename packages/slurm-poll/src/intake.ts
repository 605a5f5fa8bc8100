import { join } from "node:path";
import { type ErrorCounter, type RunRecord, readNdjson } from "@slurmpipe/core";
import type { TrackedId } from "./ids.ts";
import { type FailedSubmission, LedgerFollower, classify } from "./inputs.ts";
import type { Registry } from "./registry.ts";
import type { Reporter } from "./report.ts";
import { isFinal } from "./track.ts";

/** What intake needs of the poll's options. */
export interface IntakeOptions {
  state: string;
  ledger: boolean | "auto";
  stdin: AsyncIterable<Buffer | string> | null;
  strict?: boolean;
  once: boolean;
}

/**
 * The jobs to watch: run records from stdin (a live pipe: they may arrive during the watch) and
 * slurm-submit's ledger. Records that are not submitted runs pass through; tracked ones go to the
 * registry. Reading runs beside the watch loop, so a failure is kept and rethrown by the loop
 * (`rethrow`), and the loop is told when a job arrives or the input ends.
 */
export class Intake {
  /** stdin ended (and the ledger, if used, was read once). */
  done = false;
  /** The ledger is read: --ledger, or "auto" and stdin brought no record. */
  useLedger: boolean;
  readonly ledgerPath: string;
  private stdinRecords = 0;
  private failure: unknown;
  private ledger: LedgerFollower | undefined;

  constructor(
    private readonly o: IntakeOptions,
    private readonly registry: Registry,
    private readonly reporter: Reporter,
    private readonly errors: ErrorCounter,
    private readonly now: () => Date,
    /** Called when a job arrives and when the input ends (the loop may be asleep). */
    private readonly nudge: { arrived(): void; ended(): void },
  ) {
    this.useLedger = o.ledger === true;
    this.ledgerPath = join(o.state, "ledger.ndjson");
  }

  /** Reads stdin to its end, then the ledger if it is used. Never throws: see rethrow. */
  async read(): Promise<void> {
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
      this.failure = e;
    } finally {
      this.done = true;
      this.nudge.ended();
    }
  }

  /** Throws what reading failed with (once), in the watch loop's own flow. */
  rethrow(): void {
    if (this.failure) {
      const e = this.failure;
      this.failure = undefined;
      throw e;
    }
  }

  /** A watch, before each cycle: what was appended to the ledger since the last read. */
  async catchUp(): Promise<void> {
    if (this.useLedger && this.done && !this.o.once) await this.readLedger();
  }

  /** slurm-submit's ledger: read whole at first, then (a watch, every cycle) what was appended since. */
  private async readLedger(): Promise<void> {
    this.ledger ??= new LedgerFollower(this.ledgerPath);
    for await (const { record, line } of this.ledger.records()) await this.accept(record, this.ledger.path, line);
    for (const f of this.ledger.takeFailures()) this.reporter.submitFailed(f, this.ledger.path);
    if (this.o.once) this.ledger = undefined; // read once: its index of runs is not needed again
  }

  private async accept(value: Record<string, unknown>, source: string, line: number): Promise<void> {
    const c = classify(value);
    if (c.kind === "pass") {
      if (c.warning) this.reporter.log.warn(`${source}:${line}: ${c.warning}`);
      const failure = submitFailure(c.value, line);
      if (failure) this.reporter.submissions.failed(failure);
      await this.reporter.passThrough(c.value);
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
    const { run, fresh, otherRuns } = await this.registry.add(record, id, this.now);
    if (!fresh) return;
    for (const other of otherRuns) this.reporter.log.warn(`job ${id.key} is claimed by runs ${other} and ${record.id}; the job name decides which one it is`);
    const t = run.track;
    if (!t.loggedSubmit) {
      this.reporter.submitted(this.now(), record, run);
      t.loggedSubmit = true;
    }
    // Final in an earlier run of poll: its record goes on downstream now, its events are not repeated.
    if (isFinal(t) && !this.o.once) await this.reporter.emitRecord(run);
    this.nudge.arrived();
  }
}

/** A run record slurm-submit could not submit (`error.stage` "slurm-submit"), as a failed submission. */
function submitFailure(value: Record<string, unknown>, line: number): FailedSubmission | undefined {
  const error = value.error as { stage?: unknown; message?: unknown; code?: unknown } | undefined;
  if (value.kind === "event" || !error || error.stage !== "slurm-submit" || typeof value.id !== "string") return undefined;
  const job = value.job as { attempt?: unknown } | undefined;
  return {
    runId: value.id,
    attempt: typeof job?.attempt === "number" ? job.attempt : 1,
    at: new Date().toISOString(),
    message: typeof error.message === "string" ? error.message : "submission failed",
    ...(typeof error.code === "string" ? { code: error.code } : {}),
    ...(typeof value.name === "string" ? { name: value.name } : {}),
    line,
    superseded: false,
  };
}
