#!/usr/bin/env node
// The floor for reading every value of a log's lines in Node: each 1 MiB read viewed once as a
// latin1 string, then per `\n` line one native indexOf to its end and one to each SEP, and the
// digits after each SEP (a quote skipped) taken as one integer by a JS loop (the point and any
// exponent ignored: not the value) and summed. No key, no step, no check of the shape, no series:
// less than any parser that reports the values must do. bench/log-parse.mjs times it on the HF (SEP ": ") and nanoGPT (SEP " ") mixes beside the
// Python extractor.
//   node bench/value-floor.mjs FILE SEP
import { closeSync, openSync, readSync } from "node:fs";

const SEP = process.argv[3] ?? ": ";
const QUOTE = 39;
const fd = openSync(process.argv[2], "r");
const buf = Buffer.allocUnsafe(1 << 20);
let values = 0;
let sum = 0;
/** The values of the whole lines of `s`; returns where the unfinished last line starts. */
function linesOf(s) {
  let pos = 0;
  for (;;) {
    const nl = s.indexOf("\n", pos);
    if (nl === -1) return pos;
    for (let k = s.indexOf(SEP, pos); k !== -1 && k < nl; k = s.indexOf(SEP, k + SEP.length)) {
      let v = 0;
      let i = k + SEP.length;
      let c = s.charCodeAt(i);
      if (c === QUOTE) c = s.charCodeAt(++i);
      for (; (c >= 48 && c <= 57) || c === 46; c = s.charCodeAt(++i)) if (c !== 46) v = v * 10 + (c - 48);
      sum += v;
      values++;
    }
    pos = nl + 1;
  }
}
let carry = 0;
for (;;) {
  const n = readSync(fd, buf, carry, buf.length - carry, null);
  if (n === 0) break;
  const end = carry + n;
  const used = linesOf(buf.latin1Slice(0, end));
  carry = end - used;
  if (carry === buf.length) carry = 0; // a line longer than the buffer: its head is dropped
  else buf.copy(buf, 0, used, end);
}
closeSync(fd);
process.stdout.write(`${values} ${sum}\n`);
