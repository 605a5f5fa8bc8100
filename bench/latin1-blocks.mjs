// What bench/update-floor.mjs and bench/value-floor.mjs share: a file read in 1 MiB blocks (as
// log-parse reads), each viewed once as a latin1 string, and a value's digits taken as one integer.
// Kept apart from lib.mjs so that the floors load nothing else (their start-up is timed too).
import { closeSync, openSync, readSync } from "node:fs";

/**
 * Calls `scan(s)` on each block's latin1 view, the unfinished tail of the block before it leading;
 * `scan` returns where that block's unfinished tail starts. A tail as long as the buffer is dropped.
 */
export function eachLatin1Block(path, scan) {
  const fd = openSync(path, "r");
  const buf = Buffer.allocUnsafe(1 << 20);
  let carry = 0;
  for (;;) {
    const n = readSync(fd, buf, carry, buf.length - carry, null);
    if (n === 0) break;
    const end = carry + n;
    const used = scan(buf.latin1Slice(0, end));
    carry = end - used;
    if (carry === buf.length) carry = 0;
    else buf.copy(buf, 0, used, end);
  }
  closeSync(fd);
}

/** The digits of `s` from `i` on (points skipped) as one integer: not the value, only its digits' work. */
export function digitsAt(s, i) {
  let v = 0;
  for (let c = s.charCodeAt(i); (c >= 48 && c <= 57) || c === 46; c = s.charCodeAt(++i)) if (c !== 46) v = v * 10 + (c - 48);
  return v;
}
