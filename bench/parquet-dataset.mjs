#!/usr/bin/env node
// The child process of bench 9 (parquet.mjs): archive's writeDataset (the standalone
// build's library chunk, packages/archive/dist/cli-chunks/src-*.mjs) over RUNS runs of STEPS steps each, written to the forms
// named in FORMS (parquet, csv, ndjson; comma-separated) in OUT. Every run's metrics.csv is the
// same file (a Lightning CSVLogger file of STEPS steps: epoch, step, train_loss, val_loss on
// every 50th step, a nan now and then), so 100,000 runs need one 2,000-row file on disk, not
// 100,000; the dataset's rows are still RUNS x STEPS, each run with its own id, name and params.
// Prints one JSON line: rows, runs, wall seconds, and the V8 heap high-water mark it sampled.
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [root, out, runsText, stepsText, formsText] = process.argv.slice(2);
const RUNS = Number(runsText);
const STEPS = Number(stepsText);
const forms = new Set(formsText.split(","));
// The standalone build's library chunk (what `archive` runs; it exports the library's functions),
// so the bench measures the bundled hyparquet-writer without node_modules.
const chunks = join(root, "packages", "archive", "dist", "cli-chunks");
const chunk = readdirSync(chunks).find((f) => /^src-.*\.mjs$/.test(f));
if (!chunk) throw new Error(`${chunks} has no src-*.mjs: run \`pnpm build\` first`);
const { writeDataset } = await import(pathToFileURL(join(chunks, chunk)).href);

const csv = join(out, "metrics.csv.in");
const lines = ["epoch,step,train_loss,val_loss"];
for (let s = 0; s < STEPS; s++) {
  const loss = 2.3 * Math.exp(-s / 700) + 0.05 * Math.sin(s);
  lines.push(`${Math.floor(s / 500)},${s},${s % 997 === 13 ? "nan" : loss.toFixed(6)},`);
  if (s % 50 === 49) lines.push(`${Math.floor(s / 500)},${s},,${(loss * 1.1).toFixed(6)}`);
}
writeFileSync(csv, `${lines.join("\n")}\n`);

const sources = [];
for (let i = 0; i < RUNS; i++) {
  const id = i.toString(16).padStart(12, "0");
  const lr = [0.1, 0.03, 0.01, 0.003][i % 4];
  const record = {
    id,
    name: `tier3_lr${lr}_s${i % 5}_${i}`,
    variant: ["S-core", "S-wide", "S-deep"][i % 3],
    params: { lr, seed: i % 5, batch_size: 32, model: "llama-3.2-1b", optim: { name: "adamw", warmup: 100 } },
    job: { id: String(1_000_000 + i), attempt: 1 },
    state: { state: i % 17 === 0 ? "FAILED" : "COMPLETED", category: "success", terminal: true },
  };
  sources.push({ record, csvFiles: [csv], attempt: { attempt: 1, record } });
}

let heapMax = 0;
const sample = setInterval(() => {
  heapMax = Math.max(heapMax, process.memoryUsage().heapUsed);
}, 200);
const t0 = process.hrtime.bigint();
const paths = {};
for (const f of forms) paths[f] = join(out, `metrics.${f}`);
const r = await writeDataset(sources, paths);
clearInterval(sample);
const wall = Number(process.hrtime.bigint() - t0) / 1e9;
process.stdout.write(`${JSON.stringify({ rows: r.rows, runs: r.runs, wall, heapMaxMb: heapMax / 2 ** 20, parquet: r.parquet })}\n`);
