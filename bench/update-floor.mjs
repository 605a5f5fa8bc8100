#!/usr/bin/env node
// The floor for reading a Lightning log's every progress-bar update in Node while skipping bytes
// natively: each 1 MiB read viewed once as a latin1 string, then per `\r`-ended update one
// String#indexOf to its end and one to its `loss_step=` key (both searches run in C++), and the
// value's digits taken as one integer in JS (the point ignored) and summed. No step, no other key, no check of the shape: less than any parser
// that reports the series must do. bench/log-parse.mjs times it on the Lightning mix beside the
// Python extractor (which reads one value per physical line, i.e. per epoch, not per update).
//   node bench/update-floor.mjs FILE
import { closeSync, openSync, readSync } from "node:fs";

const KEY = "loss_step=";
const fd = openSync(process.argv[2], "r");
const buf = Buffer.allocUnsafe(1 << 20);
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
      let v = 0;
      let i = k + KEY.length;
      for (let c = s.charCodeAt(i); (c >= 48 && c <= 57) || c === 46; c = s.charCodeAt(++i)) if (c !== 46) v = v * 10 + (c - 48);
      sum += v;
      updates++;
    }
    pos = cr + 1;
  }
}
let carry = 0;
for (;;) {
  const n = readSync(fd, buf, carry, buf.length - carry, null);
  if (n === 0) break;
  const end = carry + n;
  const used = updatesOf(buf.latin1Slice(0, end));
  carry = end - used;
  if (carry === buf.length) carry = 0; // no \r in a whole buffer: not a bar log
  else buf.copy(buf, 0, used, end);
}
closeSync(fd);
process.stdout.write(`${updates} ${sum}\n`);
