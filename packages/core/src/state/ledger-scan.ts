import { type FileHandle, open } from "node:fs/promises";
import { type LedgerEntry, parseLedgerLine } from "./ledger-line.ts";

/**
 * Reading slurm-submit's ledger, the one copy of its crash-safety rules (slurm-submit reads it into
 * its view, slurm-poll follows it during a watch, core's Ledger.read collects it for tests):
 * - streaming: the file is never one string (~200 MB at 100,000 runs), lines are read in 1 MiB chunks;
 * - a bad line (not an entry, see parseLedgerLine) with at most one more line after it (the piece
 *   after the file's last newline, possibly empty) was torn by a crash mid-append: it is ignored
 *   and reported as `torn`; a bad line with more after it is corruption, LedgerCorruptError;
 * - a follower resumes after the last complete line it understood, so a line still being
 *   written (no newline yet) or a torn one is read again on the next pass.
 */

/** Where a pass over the ledger stopped understanding: the next pass starts here. */
export interface LedgerPosition {
  /** Bytes of complete lines understood. */
  readonly offset: number;
  /** Lines in them. */
  readonly lines: number;
}

export interface ScannedEntry {
  entry: LedgerEntry;
  /** 1-based line number in the file. */
  line: number;
  /** Byte range of the line, without its newline. */
  start: number;
  end: number;
}

export class LedgerCorruptError extends Error {
  constructor(
    readonly path: string,
    readonly line: number,
  ) {
    super(`${path}:${line}: corrupt ledger line`);
  }
}

/** What a pass found besides its entries. */
export interface LedgerPass {
  /** Line number of a line torn by a crash (ignored). */
  torn?: number;
  /** Where the next pass resumes. */
  position: LedgerPosition;
}

/**
 * The entries of `fh` from `from` up to byte `size`, under the crash rule above. `pass` is filled
 * in as the lines go by and is complete when the generator ends.
 */
export async function* scanLedgerLines(fh: FileHandle, path: string, size: number, from: LedgerPosition, pass: LedgerPass): AsyncGenerator<ScannedEntry> {
  let count = 0;
  let bad: { index: number; line: number } | undefined;
  pass.position = from;
  for await (const { start, end, text } of linesOf(fh, from.offset, size)) {
    const index = count++;
    const line = from.lines + index + 1;
    if (bad && index > bad.index + 1) throw new LedgerCorruptError(path, bad.line);
    let entry: LedgerEntry | undefined;
    if (text.trim() !== "") {
      entry = parseLedgerLine(text);
      if (!entry) {
        bad ??= { index, line };
        pass.torn = line;
        continue;
      }
    }
    // Understood up to here, unless it is a last line without its newline yet.
    if (!bad && end < size) pass.position = { offset: end + 1, lines: from.lines + index + 1 };
    if (entry && !bad) yield { entry, line, start, end };
  }
}

/**
 * Every entry of the ledger at `path`, in append order, streamed to `visit`. A missing ledger is
 * an empty one.
 */
export async function scanLedgerFile(path: string, visit: (s: ScannedEntry) => void): Promise<LedgerPass> {
  const pass: LedgerPass = { position: { offset: 0, lines: 0 } };
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return pass;
    throw e;
  }
  try {
    const { size } = await fh.stat();
    for await (const s of scanLedgerLines(fh, path, size, pass.position, pass)) visit(s);
    return pass;
  } finally {
    await fh.close().catch(() => {});
  }
}

/** One pass of a LedgerTail: the entries appended since the last pass, and their lines' text on demand. */
export interface LedgerTailPass {
  /** The file is another one than at the last pass (rewritten or replaced): everything is new. */
  readonly replaced: boolean;
  entries(): AsyncGenerator<ScannedEntry>;
  /** The text of a byte range of this file (read through a forward-moving 1 MiB window). */
  text(start: number, end: number): Promise<string>;
  close(): Promise<void>;
}

/**
 * The ledger followed from a byte offset: each pass gives only what was appended since the last
 * one (a watch re-reads it every cycle without re-reading 200 MB). A file whose inode changed or
 * that shrank below the offset is read again from the start (`replaced`).
 */
export class LedgerTail {
  private position: LedgerPosition = { offset: 0, lines: 0 };
  private ino: number | undefined;

  constructor(readonly path: string) {}

  /** Opens the next pass; undefined while the ledger does not exist. Close it when done. */
  async next(): Promise<LedgerTailPass | undefined> {
    let fh: FileHandle;
    try {
      fh = await open(this.path, "r");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
    try {
      const { size, ino } = await fh.stat();
      const replaced = ino !== this.ino || size < this.position.offset;
      if (replaced) {
        this.ino = ino;
        this.position = { offset: 0, lines: 0 };
      }
      const window = new ReadWindow(fh);
      const from = this.position;
      const tail = this;
      return {
        replaced,
        async *entries() {
          const pass: LedgerPass = { position: from };
          yield* scanLedgerLines(fh, tail.path, size, from, pass);
          tail.position = pass.position;
        },
        text: (start, end) => window.text(start, end - start),
        close: () => fh.close().catch(() => {}),
      };
    } catch (e) {
      await fh.close().catch(() => {});
      throw e;
    }
  }
}

/**
 * The lines of a file from byte `from` to `size`, with their byte ranges (without the newline),
 * as `text.split("\n")` has them: the part after the last newline is a last line, possibly "".
 */
async function* linesOf(fh: FileHandle, from: number, size: number): AsyncGenerator<{ start: number; end: number; text: string }> {
  const chunk = Buffer.allocUnsafe(1 << 20);
  let carry: Buffer[] = [];
  let lineStart = from;
  for (let at = from; at < size; ) {
    const { bytesRead } = await fh.read(chunk, 0, Math.min(chunk.length, size - at), at);
    if (bytesRead === 0) break;
    let from0 = 0;
    for (let nl = chunk.indexOf(0x0a, 0); nl !== -1 && nl < bytesRead; nl = chunk.indexOf(0x0a, from0)) {
      const end = at + nl;
      const text = carry.length ? Buffer.concat([...carry, chunk.subarray(from0, nl)]).toString("utf8") : chunk.toString("utf8", from0, nl);
      carry = [];
      yield { start: lineStart, end, text };
      lineStart = end + 1;
      from0 = nl + 1;
    }
    if (from0 < bytesRead) carry.push(Buffer.from(chunk.subarray(from0, bytesRead)));
    at += bytesRead;
  }
  yield { start: lineStart, end: size, text: Buffer.concat(carry).toString("utf8") };
}

/** Reads ranges of a file going mostly forward: a 1 MiB window, or just the range when it is bigger. */
class ReadWindow {
  private window: { at: number; data: Buffer } | undefined;
  constructor(private readonly fh: FileHandle) {}

  async text(at: number, length: number): Promise<string> {
    let w = this.window;
    if (!w || at < w.at || at + length > w.at + w.data.length) {
      const data = Buffer.allocUnsafe(Math.max(1 << 20, length));
      let got = 0;
      for (;;) {
        const { bytesRead } = await this.fh.read(data, got, data.length - got, at + got);
        if (bytesRead === 0) break;
        got += bytesRead;
        if (got >= length) break;
      }
      if (got < length) throw new Error(`short read at byte ${at} (${got} of ${length})`);
      w = { at, data: data.subarray(0, got) };
      this.window = w;
    }
    return w.data.toString("utf8", at - w.at, at - w.at + length);
  }
}
