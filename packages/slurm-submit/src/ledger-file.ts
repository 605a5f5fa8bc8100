import { type Ledger, StringPool, scanLedgerFile } from "@slurmpipe/core";
import { LedgerView, type NewEntry, RecordText, type ViewEntry, compact } from "./ledger-view.ts";

/**
 * Reads the ledger into a view, streamed by core's scanLedgerFile (its crash rules: a torn last
 * line ignored and reported, corruption an error naming the line).
 */
export async function readLedgerView(ledger: Ledger): Promise<{ view: LedgerView; tornLine?: number }> {
  const view = new LedgerView();
  const pool = new StringPool();
  const pass = await scanLedgerFile(ledger.path, (s) => view.apply(s.entry, pool));
  return pass.torn === undefined ? { view } : { view, tornLine: pass.torn };
}

/**
 * One ledger line: `JSON.stringify(entry)`, except that a RecordText `record` is written as the text
 * it holds, in the record's place.
 */
export function ledgerLine(entry: NewEntry): string {
  if (!(entry.t === "submitted" || entry.t === "reconciled") || !(entry.record instanceof RecordText)) return JSON.stringify(entry);
  const parts: string[] = [];
  for (const [k, v] of Object.entries(entry)) {
    if (v === undefined) continue;
    parts.push(`${JSON.stringify(k)}:${v instanceof RecordText ? v.text : JSON.stringify(v)}`);
  }
  return `{${parts.join(",")}}`;
}

/**
 * Appends entries to the ledger: ONE write and ONE fsync per batch (an array of 1,000 tasks would
 * otherwise cost 1,000 fsyncs) through core's Ledger.appendRaw, in the format of its appendMany.
 * The lines are built here because a record's text goes in as it is; each line goes into
 * a buffer that is reused for every batch as soon as it is added, so a batch of 1,000 records holds
 * neither their text nor their lines until it is written. Then the view takes the entries in.
 */
export class LedgerAppender {
  private buffer = Buffer.allocUnsafe(1 << 20);
  private used = 0;
  private added: ViewEntry[] = [];

  constructor(
    private readonly ledger: Ledger,
    private readonly view: () => LedgerView,
  ) {}

  add(entry: NewEntry): void {
    const line = `${ledgerLine(entry)}\n`;
    const length = Buffer.byteLength(line, "utf8");
    if (this.used + length > this.buffer.length) {
      const bigger = Buffer.allocUnsafe(Math.max(2 * this.buffer.length, this.used + length));
      this.buffer.copy(bigger, 0, 0, this.used);
      this.buffer = bigger;
    }
    this.used += this.buffer.write(line, this.used, "utf8");
    this.added.push(compact(entry, undefined));
  }

  /** Writes and fsyncs what was added, then the view takes it in. */
  async commit(): Promise<void> {
    if (this.added.length === 0) return;
    const added = this.added;
    try {
      await this.ledger.appendRaw(this.buffer.subarray(0, this.used));
    } finally {
      this.added = [];
      this.used = 0;
    }
    const view = this.view();
    for (const e of added) view.take(e);
  }
}

/** Appends entries with one write and one fsync and gives them to the view. */
export async function appendEntries(ledger: Ledger, entries: readonly NewEntry[], view?: LedgerView): Promise<void> {
  const appender = new LedgerAppender(ledger, () => view ?? new LedgerView());
  for (const e of entries) appender.add(e);
  await appender.commit();
}
