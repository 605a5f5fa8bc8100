import { createReadStream } from "node:fs";

/**
 * The hot loop: streams a file in 1 MiB chunks and hands the caller every segment (text between
 * `\n` or `\r`) that may matter, in constant memory.
 *
 * Why not core's `splitLines`: it decodes every line to a UTF-8 string, which is the expensive part
 * on a multi-GB log where most lines carry nothing we need, and it drops an over-long line whole,
 * which would lose the final state of a `\r` progress bar that never ended its line (tqdm writes
 * tens of MB that way). Here each chunk is viewed once as a latin1 string (one byte = one char, so
 * string offsets are byte offsets), a single precompiled keyword regex skips the uninteresting
 * segments without decoding them, and only candidates are decoded as UTF-8 (lossily: a bad or
 * truncated byte sequence becomes U+FFFD, never an exception).
 */
export interface SegmentSink {
  /** Keyword prefilter over raw bytes (global flag); null: every segment is a candidate. */
  readonly prefilter: RegExp | null;
  /** True while the sink needs every segment regardless of the prefilter (inside a traceback). */
  wantsAll(): boolean;
  /** One segment, decoded; `line` is the 1-based physical line it sits on. */
  segment(text: string, line: number): void;
}

export interface ScanStats {
  lines: number;
  bytes: number;
  /** Physical lines longer than the cap, scanned in pieces. */
  oversize: number;
  /** The file did not end with a newline (a running job's partial line). */
  partialLastLine: boolean;
}

export interface ScanOptions {
  /** A line longer than this is scanned piecewise (default 1 MiB). */
  maxLineBytes?: number;
  highWaterMark?: number;
}

const CR = 13;
const LF = 10;

export async function scanFile(path: string, sink: SegmentSink, options: ScanOptions = {}): Promise<ScanStats> {
  const stream = createReadStream(path, { highWaterMark: options.highWaterMark ?? 256 * 1024 });
  return scanStream(stream, sink, options);
}

export async function scanStream(input: AsyncIterable<Buffer | Uint8Array | string>, sink: SegmentSink, options: ScanOptions = {}): Promise<ScanStats> {
  const maxLine = options.maxLineBytes ?? 1 << 20;
  const stats: ScanStats = { lines: 0, bytes: 0, oversize: 0, partialLastLine: false };
  let carry: Buffer | null = null;
  let lineNo = 1; // number of the line being read
  let continuing = false; // the current physical line was already partly scanned (oversize)
  const pre = sink.prefilter;

  // Scans `data` (whole lines plus a tail); the tail becomes the carry for the next chunk.
  const consume = (data: Buffer): void => {
    const s = data.toString("latin1");
    let pos = 0;
    let nextKey = -1; // position of the next prefilter hit (Infinity: none left in this buffer)
    let nextCr = -2; // position of the next \r (-1: none left)

    const candidate = (a: number, b: number): boolean => {
      if (pre === null || sink.wantsAll()) return true;
      if (nextKey < a) {
        pre.lastIndex = a;
        const m = pre.exec(s);
        nextKey = m ? m.index : Number.POSITIVE_INFINITY;
      }
      return nextKey < b;
    };
    const emit = (a: number, b: number) => {
      if (b > a && candidate(a, b)) sink.segment(data.toString("utf8", a, b), lineNo);
    };
    // One physical line [a, b): every \r-separated update is a segment (the sink keeps the
    // last update per step; a message glued onto a bar is its own segment's tail).
    const line = (a: number, b: number) => {
      if (nextCr !== -1 && nextCr < a) nextCr = s.indexOf("\r", a);
      let start = a;
      while (nextCr !== -1 && nextCr < b) {
        emit(start, nextCr);
        start = nextCr + 1;
        nextCr = s.indexOf("\r", start);
      }
      emit(start, b);
    };

    for (;;) {
      const nl = s.indexOf("\n", pos);
      if (nl === -1) break;
      let end = nl;
      if (end > pos && data[end - 1] === CR) end -= 1; // CRLF
      line(pos, end);
      stats.lines += 1;
      lineNo += 1;
      continuing = false;
      pos = nl + 1;
    }
    if (pos < data.length) {
      let rest = data.subarray(pos);
      if (rest.length > maxLine) {
        // A line that does not end: keep only what follows its last \r (the bar's current
        // state); scan and drop everything before. Without a \r, scan and drop the whole piece.
        const lastCr = rest.lastIndexOf(CR);
        const cut = lastCr >= 0 && rest.length - lastCr - 1 <= maxLine ? lastCr + 1 : rest.length;
        line(pos, pos + cut);
        if (!continuing) stats.oversize += 1;
        continuing = true;
        rest = rest.subarray(cut);
      }
      carry = rest.length > 0 ? Buffer.from(rest) : null;
    }
  };

  for await (const chunk of input) {
    const piece = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    stats.bytes += piece.length;
    if (!carry) {
      consume(piece);
      continue;
    }
    // Finish the carried line with the head of this chunk (a small copy), then the rest in place.
    const nl = piece.indexOf(LF);
    const head = Buffer.concat([carry, nl === -1 ? piece : piece.subarray(0, nl + 1)]);
    carry = null;
    consume(head);
    if (nl !== -1 && nl + 1 < piece.length) {
      consume(piece.subarray(nl + 1));
    }
  }
  const tail = carry as Buffer | null; // set inside consume()
  if (tail && tail.length > 0) {
    // A running job's partial last line: read as it is (it may be completed by the next write).
    const s = tail.toString("latin1");
    stats.partialLastLine = true;
    stats.lines += 1;
    let off = 0;
    for (const p of s.split("\r")) {
      const a = off;
      off += p.length + 1;
      if (p.length === 0) continue;
      if (pre !== null && !sink.wantsAll()) {
        pre.lastIndex = 0;
        if (!pre.test(p)) continue;
      }
      sink.segment(tail.toString("utf8", a, a + p.length), lineNo);
    }
  } else if (continuing) {
    stats.partialLastLine = true;
    stats.lines += 1;
  }
  return stats;
}
