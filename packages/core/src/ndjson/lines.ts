/**
 * Splits a byte stream into lines in constant memory. Hand-written rather than split2/readline
 * because those buffer an over-long line whole and do not report line numbers; here a line over
 * `maxLineBytes` is dropped while it streams past and reported as oversize.
 */
export interface Line {
  /** 1-based line number in the input. */
  number: number;
  /** Content without the line terminator (LF or CRLF) and without a leading UTF-8 BOM. */
  text: string;
  /** Set when the line was longer than the cap; `text` is then empty. */
  oversize?: number;
}

const LF = 0x0a;

export async function* splitLines(
  input: AsyncIterable<Buffer | string | Uint8Array>,
  maxLineBytes = 16 * 1024 * 1024,
): AsyncGenerator<Line> {
  let parts: Buffer[] = [];
  let size = 0;
  let dropped = 0; // bytes of the current line discarded because it is oversize
  let number = 0;

  const finish = (): Line => {
    number += 1;
    if (dropped > 0) {
      const line = { number, text: "", oversize: dropped + size };
      parts = [];
      size = 0;
      dropped = 0;
      return line;
    }
    let buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    parts = [];
    size = 0;
    if (buf.length > 0 && buf[buf.length - 1] === 0x0d) buf = buf.subarray(0, buf.length - 1);
    if (number === 1 && buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
    return { number, text: buf.toString("utf8") };
  };

  for await (const chunk of input) {
    let buf = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    for (;;) {
      const nl = buf.indexOf(LF);
      const piece = nl === -1 ? buf : buf.subarray(0, nl);
      if (dropped > 0 || size + piece.length > maxLineBytes) {
        dropped += size + piece.length;
        parts = [];
        size = 0;
      } else if (piece.length > 0) {
        parts.push(Buffer.from(piece)); // copy: chunks may be reused by the producer
        size += piece.length;
      }
      if (nl === -1) break;
      yield finish();
      buf = buf.subarray(nl + 1);
    }
  }
  if (size > 0 || dropped > 0) yield finish();
}
