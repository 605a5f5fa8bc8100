#!/usr/bin/env node
// The floor for reading every value of a log's lines in Node: each 1 MiB read viewed once as a
// latin1 string, then per `\n` line one native indexOf to its end and one to each SEP, and the
// digits after each SEP (a quote skipped) taken as one integer by a JS loop (the point and any
// exponent ignored: not the value) and summed. No key, no step, no check of the shape, no series:
// less than any parser that reports the values must do. bench/log-parse.mjs times it on the HF
// (SEP ": ") and nanoGPT (SEP " ") mixes beside the Python extractor.
//   node bench/value-floor.mjs FILE SEP
import { digitsAt, eachLatin1Block } from "./latin1-blocks.mjs";

const SEP = process.argv[3] ?? ": ";
const QUOTE = 39;
let values = 0;
let sum = 0;
/** The values of the whole lines of `s`; returns where the unfinished last line starts. */
function linesOf(s) {
  let pos = 0;
  for (;;) {
    const nl = s.indexOf("\n", pos);
    if (nl === -1) return pos;
    for (let k = s.indexOf(SEP, pos); k !== -1 && k < nl; k = s.indexOf(SEP, k + SEP.length)) {
      const at = k + SEP.length;
      sum += digitsAt(s, s.charCodeAt(at) === QUOTE ? at + 1 : at);
      values++;
    }
    pos = nl + 1;
  }
}
eachLatin1Block(process.argv[2], linesOf);
process.stdout.write(`${values} ${sum}\n`);
