import { setImmediate as turn } from "node:timers/promises";
import { type LogHandle, openLog } from "./open.ts";

/**
 * The hot loop: reads a file in 1 MiB blocks, scanned about 8 KiB at a time, and hands the caller
 * every segment (text between `\n` or `\r`) that may matter, in constant memory.
 *
 * Why not core's `splitLines`: it decodes every line to a UTF-8 string, which is the expensive part
 * on a multi-GB log where most lines carry nothing we need, and it drops an over-long line whole,
 * which would lose the final state of a `\r` progress bar that never ended its line (tqdm writes
 * tens of MB that way). Here each chunk is viewed once as a latin1 string (one byte = one char, so
 * string offsets are byte offsets), a single precompiled keyword regex skips the uninteresting
 * segments without decoding them, and only candidates are decoded as UTF-8 (lossily: a bad or
 * truncated byte sequence becomes U+FFFD, never an exception). A sink that can read the common
 * shapes without decoding is offered every segment raw first (`fastSegment`).
 */
import { ResumeDiverged, type ScanOptions, type ScanResume, type ScanStats, type SegmentSink } from "./scan-types.ts";

export { MAX_LINE_BYTES, ResumeDiverged, type ResumePoint, type ScanOptions, type ScanResume, type ScanStats, type SegmentSink } from "./scan-types.ts";

const CR = 13;
const LF = 10;
const SPACE = 32;

/** Bytes per read: large reads keep the CPU busy (64 KiB stream chunks left it waiting ~10%). */
const READ_BYTES = 1 << 20;
/**
 * Bytes scanned at a time (then up to the next \n). Small on purpose: the latin1 view of the slice
 * being scanned is what survives a scavenge, and what survives makes V8 grow the young generation
 * (a 1 GB log peaked at 93 MB RSS with 64 KiB slices, 81 MB with 8 KiB; over 128 KiB a slice is
 * even a large-object-space string, kept until a major GC). The CPU cost is within noise.
 */
const SCAN_BYTES = 8 * 1024;

/** Scans a regular file (see open.ts for why nothing else is opened); throws naming the path otherwise. */
export async function scanFile(path: string, sink: SegmentSink, options: ScanOptions = {}): Promise<ScanStats> {
  const opened = await openLog(path, { anySymlink: true });
  if (!opened.ok) throw new Error(opened.exists ? opened.message : `${path}: no such file`);
  try {
    return await scanHandle(opened.handle, opened.size, sink, options);
  } finally {
    await opened.handle.close();
  }
}

/** Scans the first `size` bytes of an open file (its size when opened: a growing log is not chased). */
export async function scanHandle(file: LogHandle, size: number, sink: SegmentSink, options: ScanOptions = {}, resume: ScanResume = {}): Promise<ScanStats> {
  const bufSize = options.highWaterMark ?? READ_BYTES;
  const scanner = new Scanner(sink, options.maxLineBytes ?? 1 << 20, resume);
  // One buffer for the whole file: the scanner copies what it keeps (a carried line).
  const buf = Buffer.allocUnsafe(bufSize);
  let position = resume.from?.offset ?? 0;
  for (let left = size - position; left > 0; ) {
    // Blocks end where a full read's blocks end (multiples of bufSize): where an over-long line
    // is cut depends on where a read ends, and a resumed scan must cut it as a full one does.
    const want = Math.min(bufSize - (position % bufSize), left);
    // The event loop gets a turn before every block, so a signal's JS handler runs between blocks
    // (see README, Signals); the read itself is done in place (open.ts: a thread-pool trip per read
    // was most of what reading a log's last few KiB cost).
    await turn();
    const bytesRead = file.readSync(buf, 0, want, position);
    if (bytesRead === 0) break;
    left -= bytesRead;
    position += bytesRead;
    const block = buf.subarray(0, bytesRead);
    // Cut only after a \n: no line straddles two slices of a block, so slicing changes nothing
    // but the size of the strings (a line without \n takes the rest of the block, as before).
    for (let at = 0; at < bytesRead; ) {
      let end = at + SCAN_BYTES;
      if (end >= bytesRead) end = bytesRead;
      else {
        const nl = block.lastIndexOf(LF, end - 1);
        if (nl >= at) end = nl + 1;
        else {
          const next = block.indexOf(LF, end);
          end = next === -1 ? bytesRead : next + 1;
        }
      }
      scanner.chunk(block.subarray(at, end));
      at = end;
    }
  }
  return scanner.end();
}

export async function scanStream(input: AsyncIterable<Buffer | Uint8Array | string>, sink: SegmentSink, options: ScanOptions = {}): Promise<ScanStats> {
  const scanner = new Scanner(sink, options.maxLineBytes ?? 1 << 20);
  for await (const chunk of input) scanner.chunk(typeof chunk === "string" ? Buffer.from(chunk, "utf8") : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return scanner.end();
}

/** The scan state between chunks (a class, not closures: this is the per-segment hot path). */
class Scanner {
  readonly stats: ScanStats = { lines: 0, bytes: 0, oversize: 0, partialLastLine: false };
  /**
   * The unfinished line so far (at most maxLine bytes), as copies of the chunks it came in: joined
   * only when its line ends or grows past the limit. Joining (and rescanning) it at every chunk
   * cost O(maxLine^2 / chunk) per long line.
   */
  private carry: Buffer[] = [];
  private carryBytes = 0;
  private lineNo = 1; // number of the line being read
  private continuing = false; // the current physical line was already partly scanned (oversize)
  /** Bytes of the current line before the data in hand, read by the run this one goes on from. */
  private lead = 0;
  /** This scan went on from inside the current line: a cut not after a `\r` may differ from a full read's. */
  private resumedInLine = false;
  private readonly pre: RegExp | null;
  private readonly fast: boolean;
  // Per consumed buffer:
  private data: Buffer = Buffer.alloc(0);
  private s = "";
  private nextKey = -1; // position of the next prefilter hit (Infinity: none left in this buffer)
  private nextCr = -2; // position of the next \r (-1: none left)

  constructor(
    private readonly sink: SegmentSink,
    private readonly maxLine: number,
    private readonly resume: ScanResume = {},
  ) {
    this.pre = sink.prefilter;
    this.fast = typeof sink.fastSegment === "function";
    const from = resume.from;
    if (from) {
      this.stats.lines = from.lines;
      this.stats.bytes = from.offset;
      this.stats.oversize = from.oversize;
      this.lineNo = from.lines + 1;
      this.continuing = from.continuing === true;
      this.lead = this.continuing ? 0 : (from.lineBytes ?? 0);
      this.resumedInLine = this.continuing || this.lead > 0;
    }
  }

  chunk(piece: Buffer): void {
    this.stats.bytes += piece.length;
    if (this.carryBytes === 0) {
      // A view of its own: sinks may key per-buffer caches on the Buffer object's identity
      // (scanFile reuses one buffer for every read).
      this.consume(piece.subarray(0));
      return;
    }
    const nl = piece.indexOf(LF);
    if (nl === -1 && this.lead + this.carryBytes + piece.length <= this.maxLine) {
      this.carry.push(Buffer.from(piece)); // a copy: the caller reuses its buffer
      this.carryBytes += piece.length;
      return;
    }
    // Finish the carried line with the head of this chunk (a small copy), then the rest in place.
    const head = nl === -1 ? piece : piece.subarray(0, nl + 1);
    const joined = Buffer.concat([...this.carry, head]);
    this.carry = [];
    this.carryBytes = 0;
    this.consume(joined);
    if (nl !== -1 && nl + 1 < piece.length) this.consume(piece.subarray(nl + 1));
  }

  // Scans `data` (whole lines plus a tail); the tail becomes the carry for the next chunk.
  private consume(data: Buffer): void {
    const s = data.toString("latin1");
    this.data = data;
    this.s = s;
    this.nextKey = -1;
    this.nextCr = -2;
    const stats = this.stats;
    let pos = 0;
    for (;;) {
      const nl = s.indexOf("\n", pos);
      if (nl === -1) break;
      let end = nl;
      if (end > pos && data[end - 1] === CR) end -= 1; // CRLF
      this.line(this.pieces(pos, end), end);
      stats.lines += 1;
      this.lineNo += 1;
      this.continuing = false;
      this.lead = 0;
      this.resumedInLine = false;
      pos = nl + 1;
    }
    if (pos < data.length) {
      const from = this.pieces(pos, data.length, true);
      if (from < data.length) {
        this.carry.push(Buffer.from(data.subarray(from)));
        this.carryBytes = data.length - from;
      }
    }
  }

  /**
   * Scans the head of [a, b), a line or (`tail`) its unfinished end, in pieces of at most maxLine
   * bytes while more than maxLine bytes are left (see ScanOptions.maxLineBytes); returns where the
   * rest starts. The unfinished end of a line already known to be too long is cut once more, where
   * this read ends: after its last \r (only the bar's current state is carried), else after its
   * last space in its second half or, when over half the limit, at its end. Carried whole (up to
   * maxLine), it was copied and viewed again with every read: half the speed on a 1 GB line.
   */
  private pieces(a: number, b: number, tail = false): number {
    const max = this.maxLine;
    if (this.lead > 0 && b - a + this.lead > max) {
      // Gone on from a \r inside this line (a - 1), which a full read sees `lead` bytes into it:
      // its first piece ends after the last \r of [line start, line start + max), which is at or
      // after a. Cut exactly there (at a itself when no \r follows within the window).
      const cr = this.data.subarray(a, a + max - this.lead).lastIndexOf(CR);
      const cut = cr >= 0 ? a + cr + 1 : a;
      if (cut > a) this.line(a, cut);
      // Not continuing yet (lead > 0 only then): the line is found over-long here, once.
      this.stats.oversize += 1;
      this.continuing = true;
      this.lead = 0;
      a = cut;
    }
    while (b - a > max) {
      const cut = this.cut(a, a + max);
      this.line(a, cut);
      if (!this.continuing) this.stats.oversize += 1;
      this.continuing = true;
      a = cut;
    }
    if (tail && this.continuing && b > a) {
      const cr = this.data.subarray(a, b).lastIndexOf(CR);
      const cut = cr >= 0 ? a + cr + 1 : b - a > max >> 1 ? this.cut(a, b) : a;
      if (cut > a) this.line(a, cut);
      a = cut;
    }
    return a;
  }

  /** Where a piece of [a, b) ends: after its last \r, else after its last space in its second half, else at b. */
  private cut(a: number, b: number): number {
    // Searched in the window only: s.lastIndexOf would run back over all of `data` each time.
    const win = this.data.subarray(a, b);
    const cr = win.lastIndexOf(CR);
    if (cr >= 0) return a + cr + 1;
    // A cut after a \r splits no update; any other depends on where the pieces began, which a scan
    // that went on from inside the line does not know as a full read does.
    if (this.resumedInLine) throw new ResumeDiverged("an over-long line's piece without a \\r after going on from inside it");
    // A number or word is not cut in two; pieces of at least half the window keep the scan linear.
    const sp = win.lastIndexOf(SPACE);
    return sp >= (b - a) >> 1 ? a + sp + 1 : b;
  }

  // One physical line [a, b): every \r-separated update is a segment (the sink keeps the
  // last update per step; a message glued onto a bar is its own segment's tail).
  private line(a: number, b: number): void {
    const s = this.s;
    let nextCr = this.nextCr;
    if (nextCr !== -1 && nextCr < a) nextCr = s.indexOf("\r", a);
    let start = a;
    while (nextCr !== -1 && nextCr < b) {
      if (nextCr > start) this.emit(start, nextCr);
      start = nextCr + 1;
      nextCr = s.indexOf("\r", start);
    }
    this.nextCr = nextCr;
    if (b > start) this.emit(start, b);
  }

  private emit(a: number, b: number): void {
    const pre = this.pre;
    const sink = this.sink;
    if (this.fast && sink.fastSegment!(this.data, this.s, a, b, this.lineNo)) return;
    if (pre !== null && !sink.wantsAll()) {
      if (this.nextKey < a) {
        pre.lastIndex = a;
        const m = pre.exec(this.s);
        this.nextKey = m ? m.index : Number.POSITIVE_INFINITY;
      }
      if (this.nextKey >= b) return;
    }
    sink.segment(this.data.toString("utf8", a, b), this.lineNo);
  }

  end(): ScanStats {
    const { stats } = this;
    const tail = Buffer.concat(this.carry);
    const start = stats.bytes - this.carryBytes; // where the unfinished last line's unread part begins
    // The next run goes on after the last \r of that part (the updates before it are read now),
    // else from its start: a line start, a piece boundary of an over-long line, or the point this
    // run went on from.
    const cr = tail.lastIndexOf(CR);
    const s = tail.toString("latin1");
    if (cr >= 0) this.tailSegments(tail, s, 0, cr);
    const at = start + cr + 1;
    const inLine = this.continuing || this.lead > 0 || cr >= 0;
    this.resume.checkpoint?.({
      offset: at,
      lines: stats.lines,
      oversize: stats.oversize,
      ...(inLine ? (this.continuing ? { lineBytes: 0, continuing: true } : { lineBytes: this.lead + cr + 1 }) : {}),
    });
    if (tail.length > 0) {
      // A running job's partial last line: read as it is (it may be completed by the next write).
      stats.partialLastLine = true;
      stats.lines += 1;
      this.tailSegments(tail, s, cr + 1, tail.length);
    } else if (this.continuing || this.lead > 0) {
      stats.partialLastLine = true;
      stats.lines += 1;
    }
    return stats;
  }

  /** The `\r`-separated updates of `tail` between `from` and `to` (`s`: its latin1 view), each through the prefilter. */
  private tailSegments(tail: Buffer, s: string, from: number, to: number): void {
    const { sink, pre } = this;
    let a = from;
    while (a < to) {
      let b = s.indexOf("\r", a);
      if (b === -1 || b > to) b = to;
      if (b > a) {
        const p = s.slice(a, b);
        let wanted = true;
        if (pre !== null && !sink.wantsAll()) {
          pre.lastIndex = 0;
          wanted = pre.test(p);
        }
        if (wanted) sink.segment(tail.toString("utf8", a, b), this.lineNo);
      }
      a = b + 1;
    }
  }
}
