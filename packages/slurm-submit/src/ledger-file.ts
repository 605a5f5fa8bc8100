import { createReadStream } from "node:fs";
import { type FileHandle, mkdir, open } from "node:fs/promises";
import { type Ledger, StringPool, parseLedgerLine, splitLines } from "@slurmpipe/core";
import { LedgerView, type NewEntry, RecordText, type ViewEntry, compact } from "./ledger-view.ts";

/**
 * Reads the ledger line by line into a view (never the whole file as one string: at 100,000 runs
 * it is ~200 MB). Same rules as core's Ledger.read: a bad last line (or, when the file does not end
 * with a newline, one of its last two) is a line torn by a crash and ignored; any other is corruption.
 */
export async function readLedgerView(ledger: Ledger): Promise<{ view: LedgerView; tornLine?: number }> {
  const view = new LedgerView();
  const pool = new StringPool();
  let lastByte = -1;
  async function* bytes(): AsyncGenerator<Buffer> {
    for await (const chunk of createReadStream(ledger.path)) {
      const b = chunk as Buffer;
      if (b.length > 0) lastByte = b[b.length - 1]!;
      yield b;
    }
  }
  let count = 0;
  const bad: number[] = [];
  try {
    for await (const line of splitLines(bytes(), Number.MAX_SAFE_INTEGER)) {
      count = line.number;
      if (line.text.trim() === "") continue;
      const entry = parseLedgerLine(line.text);
      if (entry) view.apply(entry, pool);
      else bad.push(line.number);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { view: new LedgerView() };
    throw e;
  }
  const tornFrom = lastByte === 0x0a ? count : count - 1;
  const corrupt = bad.find((n) => n < tornFrom);
  if (corrupt !== undefined) throw new Error(`${ledger.path}:${corrupt}: corrupt ledger line`);
  const torn = bad.at(-1);
  return torn === undefined ? { view } : { view, tornLine: torn };
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
 * otherwise cost 1,000 fsyncs), in the format of core's Ledger.appendMany. The lines are built here,
 * because core takes parsed records only and a record's text goes in as it is; each line goes into
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
      this.ledger.guard();
      await mkdir(this.ledger.dir, { recursive: true });
      const fh = await open(this.ledger.path, "a");
      try {
        let done = 0;
        while (done < this.used) done += (await fh.write(this.buffer, done, this.used - done)).bytesWritten;
        await fh.sync();
      } finally {
        await fh.close();
      }
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

/**
 * Drops a line torn by a crash mid-append (see core's Ledger.repairTorn). Looks at the last byte
 * first: core's repair reads the whole file as one string (~200 MB at 100,000 runs), and only a
 * ledger that does not end with a newline needs it.
 */
export async function repairTornLedger(ledger: Ledger): Promise<boolean> {
  let fh: FileHandle;
  try {
    fh = await open(ledger.path, "r");
  } catch {
    return false;
  }
  try {
    const { size } = await fh.stat();
    if (size === 0) return false;
    const last = Buffer.alloc(1);
    await fh.read(last, 0, 1, size - 1);
    if (last[0] === 0x0a) return false;
  } finally {
    await fh.close();
  }
  return ledger.repairTorn();
}
