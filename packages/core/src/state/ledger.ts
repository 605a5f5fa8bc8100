import { type FileHandle, mkdir, open } from "node:fs/promises";
import { join } from "node:path";
import { LEDGER_FILE, type LedgerEntry, parseLedgerLine } from "./ledger-line.ts";
import { scanLedgerFile } from "./ledger-scan.ts";

export * from "./ledger-line.ts";
export * from "./ledger-scan.ts";

export interface LedgerRead {
  entries: LedgerEntry[];
  /** A last line cut by a crash mid-append; ignored. */
  tornLine?: number;
}

/** The ledger file of a state directory: appends (each fsynced), torn-tail repair, a whole read. */
export class Ledger {
  readonly path: string;
  /**
   * Called before every append: throws when this process may no longer write (the state lock's
   * `assertHeld`, set by whoever holds the lock). No-op for a ledger opened without one.
   */
  guard: () => void = () => {};
  constructor(readonly dir: string) {
    this.path = join(dir, LEDGER_FILE);
  }

  async ensure(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  /** Appends one entry and fsyncs it before returning. */
  async append(entry: LedgerEntry): Promise<void> {
    await this.appendMany([entry]);
  }

  /** Appends entries with one write and one fsync (an array of N tasks costs one sync, not N). */
  async appendMany(entries: readonly LedgerEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.appendRaw(Buffer.from(entries.map((e) => `${JSON.stringify(e)}\n`).join(""), "utf8"));
  }

  /**
   * Appends lines already serialised (each a JSON entry ending in a newline: slurm-submit writes a
   * record's text as it came, without parsing it again) with one write and one fsync.
   */
  async appendRaw(lines: Buffer): Promise<void> {
    if (lines.length === 0) return;
    this.guard();
    await this.ensure();
    const fh = await open(this.path, "a");
    try {
      let done = 0;
      while (done < lines.length) done += (await fh.write(lines, done, lines.length - done)).bytesWritten;
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  /**
   * A crash mid-append can leave a torn tail: a last line without its newline, or a last line
   * that is not an entry. The next append would follow it and the ledger would be corrupt (a bad
   * line with lines after it). Call this while holding the state-directory lock, before the first
   * append. A whole entry that only lacks its newline gets it (its job id is kept); anything else
   * torn is cut off (truncated: one metadata update, fsynced; no copy of a 200 MB ledger, and a
   * follower's offset, which never passes a torn line, stays valid). Only the tail is read.
   * Returns true if it changed the file.
   */
  async repairTorn(): Promise<boolean> {
    let fh: FileHandle;
    try {
      fh = await open(this.path, "r+");
    } catch {
      return false;
    }
    try {
      const { size } = await fh.stat();
      const repair = await tornTail(fh, size);
      if (!repair) return false;
      this.guard();
      if (repair.cut < size) await fh.truncate(repair.cut);
      if (repair.newline) await fh.write("\n", repair.cut);
      await fh.sync();
      return true;
    } finally {
      await fh.close();
    }
  }

  /** Every entry, in memory (tests and small ledgers; the commands stream with scanLedgerFile). */
  async read(): Promise<LedgerRead> {
    const entries: LedgerEntry[] = [];
    const pass = await scanLedgerFile(this.path, (s) => entries.push(s.entry));
    return pass.torn === undefined ? { entries } : { entries, tornLine: pass.torn };
  }
}

/**
 * How to mend the end of a ledger: truncate at `cut`, then add a newline if `newline`. Undefined
 * when it ends with a newline after a good (or blank) line. Reads backwards from the end until it
 * holds the last complete line and the piece after it.
 */
async function tornTail(fh: FileHandle, size: number): Promise<{ cut: number; newline: boolean } | undefined> {
  if (size === 0) return undefined;
  let tail = Buffer.alloc(0);
  let base = size;
  for (let want = 64 * 1024; ; want *= 2) {
    const start = Math.max(0, size - want);
    const chunk = Buffer.allocUnsafe(base - start);
    let got = 0;
    while (got < chunk.length) {
      const { bytesRead } = await fh.read(chunk, got, chunk.length - got, start + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    tail = Buffer.concat([chunk.subarray(0, got), tail]);
    base = start;
    const last = tail.lastIndexOf(0x0a);
    if (base === 0 || (last > 0 && tail.lastIndexOf(0x0a, last - 1) !== -1)) break;
  }
  const lastNl = tail.lastIndexOf(0x0a);
  const piece = tail.subarray(lastNl + 1);
  const pieceStart = base + lastNl + 1;
  const bad = (b: Buffer) => b.toString("utf8").trim() !== "" && parseLedgerLine(b.toString("utf8")) === undefined;
  if (lastNl !== -1) {
    // (Buffer.lastIndexOf with a negative offset counts from the end: lastNl 0 has no line before it.)
    const lineStart = lastNl === 0 ? 0 : tail.lastIndexOf(0x0a, lastNl - 1) + 1;
    if (bad(tail.subarray(lineStart, lastNl))) return { cut: base + lineStart, newline: false };
  }
  if (piece.length === 0) return undefined;
  if (!bad(piece) && piece.toString("utf8").trim() !== "") return { cut: size, newline: true };
  return { cut: pieceStart, newline: false };
}
