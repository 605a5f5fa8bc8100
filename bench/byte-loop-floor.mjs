#!/usr/bin/env node
// The floor for a log parser whose per-byte work is JavaScript: read FILE with 1 MiB reads into one
// reused buffer (as log-parse does) and look at every byte once in a JS loop, counting `\n` and
// `\r` (the splits every parser of these logs makes: Lightning updates end in `\r`), and nothing
// else: no keyword, no number, no record. bench/log-parse.mjs times it beside the Python extractor
// to show what share of the Python rate a Node program reaches before it parses anything.
// (read-floor.mjs is the other floor: its searches run in C++ and skip bytes, but read no value.)
//   node bench/byte-loop-floor.mjs FILE
import { closeSync, openSync, readSync } from "node:fs";

const CR = 13;
const LF = 10;
const fd = openSync(process.argv[2], "r");
const buf = Buffer.allocUnsafe(1 << 20);
let lines = 0;
let updates = 0;
// One function over the whole block, so V8 optimizes the loop once (as log-parse's readers are).
function count(block, n) {
  for (let i = 0; i < n; i++) {
    const c = block[i];
    if (c <= CR) {
      if (c === LF) lines++;
      else if (c === CR) updates++;
    }
  }
}
for (;;) {
  const n = readSync(fd, buf, 0, buf.length, null);
  if (n === 0) break;
  count(buf, n);
}
closeSync(fd);
process.stdout.write(`${lines} ${updates}\n`);
