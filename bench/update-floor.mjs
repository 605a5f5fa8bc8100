#!/usr/bin/env node
// The floor for reading a Lightning log's every progress-bar update in Node while skipping bytes
// natively: each 1 MiB read viewed once as a latin1 string, then per `\r`-ended update one
// String#indexOf to its end and one to its `loss_step=` key (both searches run in C++), and the
// value's digits taken as one integer in JS (the point ignored) and summed. No step, no other key,
// no check of the shape: less than any parser that reports the series must do. bench/log-parse.mjs
// times it on the Lightning mix beside the Python extractor (which reads one value per physical
// line, i.e. per epoch, not per update).
//   node bench/update-floor.mjs FILE
import { digitsAt, eachLatin1Block } from "./latin1-blocks.mjs";

const KEY = "loss_step=";
let updates = 0;
let sum = 0;
/** The updates of `s` that end in a `\r`; returns where the unfinished one starts. */
function updatesOf(s) {
  let pos = 0;
  for (;;) {
    const cr = s.indexOf("\r", pos);
    if (cr === -1) return pos;
    const k = s.indexOf(KEY, pos);
    if (k !== -1 && k < cr) {
      sum += digitsAt(s, k + KEY.length);
      updates++;
    }
    pos = cr + 1;
  }
}
eachLatin1Block(process.argv[2], updatesOf);
process.stdout.write(`${updates} ${sum}\n`);
