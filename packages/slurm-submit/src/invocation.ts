import { resolve } from "node:path";
import { Ledger, type Logger, NdjsonWriter, type ParsedState, type RunRecord, type ScratchTexts, type SlurmClientOptions, StringPool, type TextRef } from "@slurmpipe/core";
import { type Item, locate } from "./items.ts";
import { LedgerAppender } from "./ledger-file.ts";
import { LedgerView, type NewEntry } from "./ledger-view.ts";
import type { SubmitOptions, SubmitSummary } from "./options.ts";
import { type Clock, systemClock } from "./pacer.ts";
import { applyEdits } from "./record-text.ts";
import { edit, setError } from "./records.ts";

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
  /** Where the input's records are kept as text (opened by submit()). */
  store!: ScratchTexts;
  /** Repeated strings of the items (script paths, array ids, sources). */
  readonly pool = new StringPool();
  readonly items: Item[] = [];
  /** Records of other kinds, written out first, untouched. */
  readonly others: TextRef[] = [];
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
  /** Ledger lines of the next append (`append`, or `appender.add` ... `appender.commit`). */
  readonly appender: LedgerAppender;

  constructor(o: SubmitOptions) {
    this.o = o;
    this.clock = o.clock ?? systemClock;
    this.client = o.client ?? {};
    this.writer = new NdjsonWriter(o.stdout);
    this.log = o.log;
    this.cwd = o.cwd ?? process.cwd();
    this.stateDir = resolve(this.cwd, o.stateDir ?? ".slurmpipe");
    this.ledger = new Ledger(this.stateDir);
    this.appender = new LedgerAppender(this.ledger, () => this.view);
  }

  nowIso(): string {
    return new Date(this.clock.now()).toISOString();
  }

  /** Appends to the ledger and keeps the view in step. */
  append(entries: readonly NewEntry[]): Promise<void> {
    for (const e of entries) this.appender.add(e);
    return this.appender.commit();
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
    setError(item, code, `${locate(item)}: ${message}`, this.clock.now());
    this.summary.failed++;
  }

  uncertain(item: Item, code: string, message: string): void {
    item.status = "uncertain";
    setError(item, code, message, this.clock.now());
    this.summary.uncertain++;
    this.log.error(`${item.name}: ${message}`);
  }

  // ---- the record ---------------------------------------------------------------------------

  /** The item's record as JSON text, with what was changed in it so far. */
  async text(item: Item): Promise<string> {
    const text = await this.store.get(item);
    return item.edits ? applyEdits(text, item.fields, item.edits) : text;
  }

  /** The item's record as an object (for selectors; most records are never parsed again). */
  async record(item: Item): Promise<RunRecord> {
    return JSON.parse(await this.text(item)) as RunRecord;
  }

  // ---- output ---------------------------------------------------------------------------------

  /** Writes the records of other kinds, untouched. */
  async writeOthers(): Promise<void> {
    for (const ref of this.others) await this.writer.writeLine(await this.store.get(ref));
    this.others.length = 0;
  }

  /** Writes the item's record out (once). */
  async emit(item: Item): Promise<void> {
    if (item.emitted) return;
    item.emitted = true;
    if ((item.status === "done" || item.status === "foreign") && !item.fresh) {
      if (item.job) edit(item, { set: { job: item.job } });
      this.summary.skipped++;
    }
    if (item.status === "pass") this.summary.passed++;
    await this.writer.writeLine(await this.text(item));
    item.edits = undefined; // written: nothing reads the record again
  }

  async emitAll(items: Item[]): Promise<void> {
    for (const i of items) await this.emit(i);
  }

  async emitWhere(pred: (i: Item) => boolean): Promise<void> {
    for (const i of this.items) if (pred(i)) await this.emit(i);
  }
}
