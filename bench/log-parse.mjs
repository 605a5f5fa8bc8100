#!/usr/bin/env node
// Bench 3: log-parse throughput (MB/s) and peak RSS on generated training logs, one per format mix
// (HF Trainer dicts, nanoGPT, Lightning bars, Megatron, mixed; gen-log.mjs), each of BENCH_LOG_MB
// megabytes (default 200), against what a user would write instead: a Python loop applying one
// regex per line of the file opened in binary mode (issue #15's extractor). `LC_ALL=C grep -c loss`,
// the Node read floor (bench/read-floor.mjs), a JS loop over every byte that parses nothing
// (bench/byte-loop-floor.mjs: where it is under 2x Python, no parser whose per-byte work is
// JavaScript meets the target), on the Lightning log a reader of one value per bar update that skips
// bytes natively (bench/update-floor.mjs), on the HF and nanoGPT logs a reader of every value of a
// line that reads no key and checks nothing (bench/value-floor.mjs) and, on the mixed log, an awk
// extractor are references.
// The logs are generated once into BENCH_CACHE (default $TMPDIR/slurmpipe-bench-cache), never the
// repo, and read once before timing so every tool reads them from the page cache.
//   BENCH_MIXES=hf,mixed node bench/log-parse.mjs    # some mixes only
import { createReadStream, existsSync, mkdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { MIXES, generateLog } from "./gen-log.mjs";
import { ROOT, cleanup, finish, log, median, printTable, scratch, setting, timed, timedCli } from "./lib.mjs";

const MB = Number(setting("BENCH_LOG_MB", 200));
const RUNS = Number(setting("BENCH_LOG_RUNS", 3));
const mixes = String(setting("BENCH_MIXES", Object.keys(MIXES).join(","))).split(",");
const cache = setting("BENCH_CACHE", join(tmpdir(), "slurmpipe-bench-cache"));
mkdirSync(cache, { recursive: true });

const dir = scratch("logparse");
// The extractor of issue #15: one re.search per line, the file read in binary mode.
const PY = join(dir, "extract.py");
writeFileSync(
  PY,
  `import re, sys
pat = re.compile(rb'loss[^0-9n]*([0-9][0-9.eE+-]*)')
n = 0
last = None
with open(sys.argv[1], 'rb') as f:
    for line in f:
        m = pat.search(line)
        if m:
            n += 1
            last = m.group(1)
print(n, last.decode() if last else None)
`,
);
// One loss value per record; records split at \n and \r, as the progress bars need.
const AWK = `BEGIN { RS = "[\\r\\n]+" }
match($0, /loss[a-z_]*['"]?[:=]? *['"]?[-+]?([0-9]+[.]?[0-9]*([eE][-+]?[0-9]+)?|nan|inf)/) {
  s = substr($0, RSTART, RLENGTH); sub(/^loss[a-z_]*['"]?[:=]? *['"]?/, "", s); print s
}`;
const python = String((await execa("python3", ["--version"])).stdout).trim();
const C = { ...process.env, LC_ALL: "C" };
async function best(run) {
  const rs = [];
  for (let i = 0; i < RUNS; i++) rs.push(await run());
  return { wall: median(rs.map((r) => r.wall)), rssMb: Math.max(...rs.map((r) => r.rssMb)), last: rs.at(-1) };
}

const rows = [];
const notes = [];
for (const mix of mixes) {
  if (!(mix in MIXES)) throw new Error(`BENCH_MIXES: unknown mix ${mix} (${Object.keys(MIXES).join(", ")})`);
  const file = join(cache, `train-${mix}-${MB}MB.log`);
  if (!existsSync(file)) {
    log(`generating ${file} (${MB} MB, ${mix})`);
    generateLog(`${file}.partial`, MB, mix);
    renameSync(`${file}.partial`, file);
  }
  const mib = statSync(file).size / 2 ** 20;
  await new Promise((resolve, reject) => createReadStream(file).on("data", () => {}).on("end", resolve).on("error", reject));
  log(`${mix}: ${file} (${mib.toFixed(0)} MiB), ${RUNS} runs each`);
  const py = await best(() => timed("python3", [PY, file]));
  const lp = await best(() => timedCli("log-parse", [file], { stdout: join(dir, "lp.ndjson"), allowExit: [0, 1] }));
  const grep = await best(() => timed("grep", ["-c", "loss", file], { env: C, allowExit: [0, 1] }));
  const floor = await best(() => timed("node", [join(ROOT, "bench", "read-floor.mjs"), file]));
  const loop = await best(() => timed("node", [join(ROOT, "bench", "byte-loop-floor.mjs"), file]));
  const report = JSON.parse((await execa("head", ["-1", join(dir, "lp.ndjson")])).stdout).report ?? {};
  const rate = (r) => mib / r.wall;
  rows.push(
    { metric: `${mix}: MB/s vs Python re.search per line`, slurmpipe: rate(lp), baseline: rate(py), ratio: rate(lp) / rate(py), target: ">= 2x", pass: rate(lp) / rate(py) >= 2 },
    { metric: `${mix}: peak RSS MB (baseline: Python)`, slurmpipe: lp.rssMb, baseline: py.rssMb, ratio: lp.rssMb / py.rssMb, target: "< 100 MB", pass: lp.rssMb < 100 },
    { metric: `${mix}: MB/s vs LC_ALL=C grep -c loss`, slurmpipe: rate(lp), baseline: rate(grep), ratio: rate(lp) / rate(grep) },
    { metric: `${mix}: MB/s vs the Node read floor`, slurmpipe: rate(lp), baseline: rate(floor), ratio: rate(lp) / rate(floor) },
    { metric: `${mix}: MB/s, JS byte loop (parses nothing) vs Python`, slurmpipe: rate(loop), baseline: rate(py), ratio: rate(loop) / rate(py) },
  );
  const SEPARATORS = { hf: ": ", nanogpt: " " };
  if (mix in SEPARATORS) {
    const val = await best(() => timed("node", [join(ROOT, "bench", "value-floor.mjs"), file, SEPARATORS[mix]]));
    rows.push({ metric: `${mix}: MB/s, every value, no key or check (value-floor) vs Python`, slurmpipe: rate(val), baseline: rate(py), ratio: rate(val) / rate(py) });
    notes.push(`${mix}: value-floor read ${String(val.last.stdout).trim().split(" ")[0]} values after ${JSON.stringify(SEPARATORS[mix])}`);
  }
  if (mix === "lightning") {
    const upd = await best(() => timed("node", [join(ROOT, "bench", "update-floor.mjs"), file]));
    rows.push({ metric: "lightning: MB/s, one value per update, native skips (update-floor) vs Python", slurmpipe: rate(upd), baseline: rate(py), ratio: rate(upd) / rate(py) });
    notes.push(`lightning: update-floor read ${String(upd.last.stdout).trim().split(" ")[0]} updates (Python matched once per physical line)`);
  }
  if (mix === "mixed") {
    const awk = await best(() => timed("awk", [AWK, file], { env: C, stdout: join(dir, "awk.out") }));
    rows.push({ metric: "mixed: MB/s vs awk loss extractor", slurmpipe: rate(lp), baseline: rate(awk), ratio: rate(lp) / rate(awk) });
  }
  notes.push(
    `${mix}: ${mib.toFixed(0)} MiB; log-parse ${report.loss?.points ?? "?"} loss points (${report.loss?.metric ?? "-"}), ${report.steps_seen ?? "?"} steps; Python: ${String(py.last.stdout).trim()} (matches, last value); grep -c ${String(grep.last.stdout).trim()}; RSS grep ${grep.rssMb.toFixed(1)}, floor ${floor.rssMb.toFixed(1)} MB; byte loop: ${String(loop.last.stdout).trim()} (lines, \\r)`,
  );
}
cleanup(dir);

const missed = printTable(`3. log-parse vs a Python extractor, ${MB} MB per format mix`, rows, [
  `MiB/s = size / median wall of ${RUNS} runs, page cache warm; logs generated by bench/gen-log.mjs (mixes: ${mixes.join(", ")})`,
  `Python: ${python}, \`re.search(rb'loss[^0-9n]*([0-9][0-9.eE+-]*)', line)\` per line of the file opened 'rb' (counts matches, keeps the last value)`,
  "log-parse: `log-parse FILE` (one report: every metric's series, trend, failures, warnings), bundled dist/cli.mjs",
  "Node read floor: bench/read-floor.mjs (1 MiB reads, Buffer.indexOf for \"loss\" and newlines; parses nothing)",
  "update floor (Lightning): bench/update-floor.mjs (per \\r-ended update, String#indexOf to its end and to `loss_step=`, the value's digits in JS; no step, no check)",
  "value floor (HF, nanoGPT): bench/value-floor.mjs (per \\n line, String#indexOf to its end and to each separator, its digits as one integer in a JS loop; no key, no step, no check, not the exact value)",
  "JS byte loop: bench/byte-loop-floor.mjs (1 MiB reads, one JS comparison per byte counting \\n and \\r; parses nothing): under 2x Python, the target is out of reach of any parser doing its per-byte work in JavaScript",
  ...notes,
]);
finish(missed);
