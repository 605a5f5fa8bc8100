#!/usr/bin/env node
// Scores the built log-parse command against the corpus of real logs (test/corpus/README.md):
// every case's record goes through `node dist/cli.mjs` as a user's pipeline would send it; one
// line per miss, then `N passed, M failed`. Exit 1 when a case fails that is not a known miss.
//   node packages/log-parse/scripts/corpus.mjs [CORPUS_DIR...]   (default: test/corpus)
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { compare, loadCases, recordOf, scoreLine } from "../test/corpus/score.mjs";

const cli = fileURLToPath(new URL("../dist/cli.mjs", import.meta.url));
const dirs = process.argv.length > 2 ? process.argv.slice(2) : [fileURLToPath(new URL("../test/corpus", import.meta.url))];
const cases = dirs.flatMap((d) => loadCases(d));
const run = spawnSync(process.execPath, [cli], { input: cases.map((c) => JSON.stringify(recordOf(c))).join("\n"), encoding: "utf8", maxBuffer: 1 << 30 });
if (run.error || run.status === 2) throw new Error(`log-parse failed: ${run.error ?? run.stderr}`);
const reports = run.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
if (reports.length !== cases.length) throw new Error(`log-parse gave ${reports.length} records for ${cases.length} cases: ${run.stderr}`);
const results = cases.map((c, i) => ({ name: c.name, diffs: compare(c.spec.expect, reports[i].report ?? {}), known_miss: c.spec.known_miss }));
for (const r of results) if (r.diffs.length > 0) process.stdout.write(`${r.known_miss ? "known miss" : "MISS"} ${r.name}: ${r.diffs.join("; ")}${r.known_miss ? ` (${r.known_miss})` : ""}\n`);
process.stdout.write(`${scoreLine(results)}\n`);
process.exitCode = results.some((r) => r.diffs.length > 0 && !r.known_miss) ? 1 : 0;
