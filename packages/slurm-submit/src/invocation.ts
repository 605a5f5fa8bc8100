import { resolve } from "node:path";
import { Ledger, type LedgerEntry, type Logger, NdjsonWriter, type ParsedState, type RunRecord, type SlurmClientOptions } from "@slurmpipe/core";
import { type Item, locate } from "./items.ts";
import { LedgerView, appendEntries } from "./ledger-view.ts";
import type { SubmitOptions, SubmitSummary } from "./options.ts";
import { type Clock, systemClock } from "./pacer.ts";
import { withError } from "./records.ts";

/**
 * One slurm-submit invocation: its options, the ledger, the input's items and what was decided
 * about them, the counters, and the output. The steps (plan, reconcile, submit) work on it.
 */
export class Invocation {
  readonly o: SubmitOptions;
  readonly clock: Clock;
  readonly client: SlurmClientOptions;
  readonly log: Logger;
  readonly cwd: string;
  readonly stateDir: string;
  readonly ledger: Ledger;
  view = new LedgerView();
  readonly items: Item[] = [];
  readonly others: Record<string, unknown>[] = [];
  readonly byId = new Map<string, Item>();
  readonly byName = new Map<string, Item>();
  /** Live Slurm state of jobs recorded in the ledger, by run id (for dependencies). */
  readonly ledgerLive = new Map<string, ParsedState>();
  /** ClusterName: null until sbatch or scontrol was asked, undefined when it could not be read. */
  cluster: string | undefined | null = null;
  readonly summary: SubmitSummary = {
    submitted: 0, reconciled: 0, skipped: 0, resubmitted: 0, failed: 0, uncertain: 0, passed: 0, badLines: 0, dryRun: 0, sbatchCalls: 0,
  };
  private readonly writer: NdjsonWriter;

  constructor(o: SubmitOptions) {
    this.o = o;
    this.clock = o.clock ?? systemClock;
    this.client = o.client ?? {};
    this.writer = new NdjsonWriter(o.stdout);
    this.log = o.log;
    this.cwd = o.cwd ?? process.cwd();
    this.stateDir = resolve(this.cwd, o.stateDir ?? ".slurmpipe");
    this.ledger = new Ledger(this.stateDir);
  }

  nowIso(): string {
    return new Date(this.clock.now()).toISOString();
  }

  /** Appends to the ledger and keeps the view in step. */
  append(entries: readonly LedgerEntry[]): Promise<void> {
    return appendEntries(this.ledger, entries, this.view);
  }

  // ---- what was decided about an item ---------------------------------------------------------

  setDone(item: Item, job: Record<string, unknown>): void {
    item.status = "done";
    item.job = job;
  }

  setSubmit(item: Item, attempt: number, planned: "submit" | "resubmit"): void {
    item.status = "submit";
    item.attempt = attempt;
    item.planned = planned;
  }

  invalid(item: Item, code: string, message: string): void {
    item.status = "invalid";
    item.record = withError(item.record, code, `${locate(item)}: ${message}`, this.clock.now());
    this.summary.failed++;
  }

  uncertain(item: Item, code: string, message: string): void {
    item.status = "uncertain";
    item.record = withError(item.record, code, message, this.clock.now());
    this.summary.uncertain++;
    this.log.error(`${item.record.name}: ${message}`);
  }

  // ---- output ---------------------------------------------------------------------------------

  /** Writes a record of another kind, untouched. */
  async write(record: Record<string, unknown>): Promise<void> {
    await this.writer.write(record);
  }

  async emit(item: Item): Promise<void> {
    if (item.emitted) return;
    item.emitted = true;
    let out: RunRecord = item.record;
    if ((item.status === "done" || item.status === "foreign") && !item.fresh) {
      out = { ...item.record, ...(item.job ? { job: item.job } : {}) } as RunRecord;
      this.summary.skipped++;
    }
    if (item.status === "pass") this.summary.passed++;
    await this.writer.write(out);
  }

  async emitAll(items: Item[]): Promise<void> {
    for (const i of items) await this.emit(i);
  }

  async emitWhere(pred: (i: Item) => boolean): Promise<void> {
    for (const i of this.items) if (pred(i)) await this.emit(i);
  }
}
