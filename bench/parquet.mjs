#!/usr/bin/env node
// Bench 8: archive's metrics.parquet at sweep scale. archive's dataset writer (the standalone
// build's library chunk) over R runs x 2,000 steps, R = 1,000, 10,000 and 100,000 (the issue #20
// size: 200 million rows), Parquet only, each in a child process under /usr/bin/time: wall time,
// peak RSS and the file's size. Constant memory means the peak RSS does not grow with R. One row
// writes all three forms (NDJSON, CSV, Parquet) at the smallest R, for the cost of the other two.
// The 100,000-run row takes about half an hour on the 2-core machine (BENCH_PARQUET_RUNS to change
// the sizes). Not in `pnpm bench`'s default list for that reason: `bash bench/run-all parquet`.
import { statSync } from "node:fs";
import { join } from "node:path";
import { ROOT, cleanup, finish, fmt, log, printTable, scratch, setting, timed } from "./lib.mjs";

const SIZES = setting("BENCH_PARQUET_RUNS", "1000,10000,100000").split(",").map(Number);
const STEPS = Number(setting("BENCH_PARQUET_STEPS", 2000));
const child = join(ROOT, "bench", "parquet-dataset.mjs");

const rows = [];
const measured = [];
try {
  for (const [runs, forms] of [...SIZES.map((n) => [n, "parquet"]), [SIZES[0], "ndjson,csv,parquet"]]) {
    const dir = scratch("parquet");
    try {
      log(`parquet: ${runs} runs x ${STEPS} steps -> ${forms}`);
      const r = await timed(process.execPath, [child, ROOT, dir, String(runs), String(STEPS), forms]);
      const out = JSON.parse(r.stdout.trim().split("\n").pop());
      const mb = (f) => statSync(join(dir, `metrics.${f}`)).size / 2 ** 20;
      const sizes = forms.split(",").map((f) => `${f} ${fmt(mb(f), 1)} MiB`).join(", ");
      if (forms === "parquet") measured.push({ runs, rssMb: r.rssMb });
      rows.push({ metric: `${runs.toLocaleString("en-US")} runs (${out.rows.toLocaleString("en-US")} rows), ${forms}: wall s`, slurmpipe: r.wall });
      rows.push({ metric: `  peak RSS MB (${sizes})`, slurmpipe: r.rssMb });
    } finally {
      cleanup(dir);
    }
  }
  const small = measured[0];
  const big = measured[measured.length - 1];
  rows.push({
    metric: `peak RSS MB, ${big.runs.toLocaleString("en-US")} vs ${small.runs.toLocaleString("en-US")} runs (constant memory)`,
    slurmpipe: big.rssMb,
    baseline: small.rssMb,
    ratio: big.rssMb / small.rssMb,
    target: "<= 1.25x",
    pass: big.rssMb / small.rssMb <= 1.25,
  });
  const missed = printTable(`9. archive metrics.parquet: runs x ${STEPS} steps (one shared metrics.csv per run)`, rows, [
    "each run: its own id, name, variant, 5 params, attempt, state; metrics.csv with epoch, step, train_loss, val_loss (sparse), a nan every 997 steps",
    "the records of every run are held (as archive holds its runs); everything else is one run's rows and one 100,000-row row group",
  ]);
  finish(missed);
} catch (e) {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
}
