#!/usr/bin/env node
// Bench 5: sweep-gen throughput (lines/s) on a 1,000,000-run grid and its peak RSS, which must not
// grow with the sweep (compared with the same grid cut to 100,000 runs). Baseline, same run: a
// minimal node loop that writes records of the same shape (sha256 content id, name, params, argv)
// with no parsing, validation or naming rules: the floor for this output in this runtime.
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, finish, log, printTable, scratch, setting, timed, timedCli } from "./lib.mjs";

const N = Number(setting("BENCH_SWEEP_RUNS", 1_000_000));
const SMALL = N / 10;
const dir = scratch("sweep");

function sweepFile(runs) {
  const path = join(dir, `sweep-${runs}.yaml`);
  writeFileSync(
    path,
    [
      "command: [python, train.py]",
      "args: hydra",
      'name: "r{a}_{b}"',
      "params: {max_steps: 2000, optimizer: adamw}",
      "grid:",
      `  a: 0..${runs / 1000 - 1}`,
      "  b: 0..999",
      'resources: {time: "00:10:00", mem: 4G}',
      "",
    ].join("\n"),
  );
  return path;
}

const BASELINE = `
const { createHash } = require("node:crypto");
const n = Number(process.argv[1]);
let out = [];
for (let i = 0; i < n; i++) {
  const a = Math.floor(i / 1000), b = i % 1000;
  const params = { a, b, max_steps: 2000, optimizer: "adamw" };
  const id = createHash("sha256").update(JSON.stringify(params)).digest("hex").slice(0, 16);
  out.push(JSON.stringify({ kind: "run", v: 1, id, name: "r" + a + "_" + b, params, command: ["python", "train.py", "a=" + a, "b=" + b, "max_steps=2000", "optimizer=adamw"], resources: { mem: "4G", time: "00:10:00" } }));
  if (out.length === 4096) { process.stdout.write(out.join("\\n") + "\\n"); out = []; }
}
if (out.length) process.stdout.write(out.join("\\n") + "\\n");
`;

const lines = (path) => {
  const buf = readFileSync(path);
  let n = 0;
  for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) n++;
  return n;
};

try {
  log(`sweep-gen: ${SMALL} and ${N} runs; baseline: a bare node loop`);
  const out = join(dir, "out.ndjson");
  const small = await timedCli("sweep-gen", [sweepFile(SMALL)], { stdout: out });
  const smallLines = lines(out);
  const big = await timedCli("sweep-gen", [sweepFile(N)], { stdout: out });
  const bigLines = lines(out);
  const bigBytes = statSync(out).size;
  const first = readFileSync(out, "utf8").slice(0, 400).split("\n")[0];
  log(`sweep-gen first record: ${first}`);
  const base = await timed(process.execPath, ["-e", BASELINE, String(N)], { stdout: out });
  const baseLines = lines(out);
  const rate = (r, n) => n / r.wall;
  const missed = printTable(`5. sweep-gen: ${N.toLocaleString("en-US")}-run grid to NDJSON (stdout to a file)`, [
    { metric: `runs written (${N.toLocaleString("en-US")} expected)`, slurmpipe: bigLines, baseline: baseLines, target: `= ${N}`, pass: bigLines === N },
    { metric: "lines/s, 1M runs", slurmpipe: Math.round(rate(big, bigLines)), baseline: Math.round(rate(base, baseLines)), ratio: rate(big, bigLines) / rate(base, baseLines) },
    { metric: "wall s, 1M runs", slurmpipe: big.wall, baseline: base.wall, ratio: big.wall / base.wall },
    { metric: "peak RSS MB, 1M runs", slurmpipe: big.rssMb, baseline: base.rssMb, ratio: big.rssMb / base.rssMb },
    { metric: "peak RSS MB, 1M vs 100k runs (constant memory)", slurmpipe: big.rssMb, baseline: small.rssMb, ratio: big.rssMb / small.rssMb, target: "<= 1.25x", pass: big.rssMb / small.rssMb <= 1.25 },
    { metric: "lines/s, 100k runs", slurmpipe: Math.round(rate(small, smallLines)) },
  ], [
    `output ${(bigBytes / 2 ** 20).toFixed(0)} MiB; sweep: 2-axis grid (a: 0..${N / 1000 - 1}, b: 0..999), hydra args, name template`,
    "baseline: node -e loop writing the same-shaped records (sha256 ids), no YAML, validation or name checks",
  ]);
  finish(missed);
} finally {
  cleanup(dir);
}
