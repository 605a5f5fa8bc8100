#!/usr/bin/env node
// The floor for any log parser written for Node: read FILE with 1 MiB reads into one reused buffer
// (as log-parse does) and count the lines containing "loss" with Buffer.indexOf, parsing nothing.
// bench/log-parse.mjs times it beside grep -c to show how much of grep's rate Node alone reaches.
//   node bench/read-floor.mjs FILE
import { closeSync, openSync, readSync } from "node:fs";

const fd = openSync(process.argv[2], "r");
const buf = Buffer.allocUnsafe(1 << 20);
const NL = 10;
let carry = 0; // bytes of an unfinished line kept at the start of buf
let lines = 0;
for (;;) {
  const n = readSync(fd, buf, carry, buf.length - carry, null);
  const end = carry + n;
  let start = 0;
  let hit = buf.indexOf("loss", 0, "latin1");
  while (hit !== -1 && hit < end) {
    const nl = buf.indexOf(NL, hit);
    if (nl === -1 || nl >= end) break;
    lines++;
    start = nl + 1;
    hit = buf.indexOf("loss", start, "latin1");
  }
  if (n === 0) {
    if (hit !== -1 && hit < end) lines++;
    break;
  }
  const lastNl = buf.lastIndexOf(NL, end - 1);
  const keep = lastNl === -1 || lastNl < start ? end - start : end - (lastNl + 1);
  buf.copy(buf, 0, end - keep, end);
  carry = keep === buf.length ? 0 : keep; // a line longer than the buffer: give up on its tail
}
closeSync(fd);
process.stdout.write(`${lines}\n`);
