#!/usr/bin/env node
// Bench 4: CLI cold start. `node packages/<cmd>/dist/cli.mjs --help` (the standalone bundle) for
// every command, against `node -e 0` (the floor: starting node itself), median of N runs.
// hyperfine (-N, no shell, warm-up runs) when installed, else a loop timed with process.hrtime.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { COMMANDS, cleanup, cliPath, finish, log, median, printTable, scratch, setting } from "./lib.mjs";

const RUNS = Number(setting("BENCH_RUNS", 30));
const WARMUP = 3;
const TARGET = 1.5;
const node = process.execPath;

// The release artifacts (packages/slurmpipe, `pnpm release:build`), when built: the npm package
// (ES module chunks, dist/npm/), the one CommonJS file the single executable embeds, run by node,
// and the single executable, `<artifact> <command> --help`.
const dist = new URL("../packages/slurmpipe/dist/", import.meta.url).pathname;
const bundle = join(dist, "slurmpipe.cjs");
const sea = join(dist, "slurmpipe-linux-x64");
const npm = join(dist, "npm/slurmpipe.mjs");
const artifacts = [npm, bundle, sea].filter((f) => existsSync(f));
const commands = [
  [node, "-e", "0"],
  ...COMMANDS.map((c) => [node, cliPath(c), "--help"]),
  ...(artifacts.includes(npm) ? COMMANDS.map((c) => [node, npm, c, "--help"]) : []),
  ...(artifacts.includes(bundle) ? COMMANDS.map((c) => [node, bundle, c, "--help"]) : []),
  ...(artifacts.includes(sea) ? COMMANDS.map((c) => [sea, c, "--help"]) : []),
];
const label = (argv) => {
  if (argv[1] === "-e") return "node -e 0";
  if (argv[0] === sea) return `SEA ${argv[1]} --help`;
  if (argv[1] === bundle) return `node slurmpipe.cjs ${argv[2]} --help`;
  if (argv[1] === npm) return `npm slurmpipe.mjs ${argv[2]} --help`;
  return `${argv[1].split("/").at(-3)} --help`;
};

async function withHyperfine() {
  const dir = scratch("cold");
  const json = join(dir, "h.json");
  // -N: no intermediate shell; every command line is split on spaces (paths here have none)
  await execa("hyperfine", ["-N", "--warmup", String(WARMUP), "--runs", String(RUNS), "--style", "none", "--export-json", json, ...commands.map((c) => c.join(" "))]);
  const res = JSON.parse(readFileSync(json, "utf8")).results;
  cleanup(dir);
  return res.map((r) => median(r.times) * 1000);
}

// Round-robin: run i of every command, then run i + 1 of every command, so a load change on a
// shared machine falls on all rows alike instead of on the rows timed while it lasted.
function withLoop() {
  const times = commands.map(() => []);
  for (let i = 0; i < WARMUP + RUNS; i++) {
    commands.forEach((argv, c) => {
      const t0 = process.hrtime.bigint();
      const r = spawnSync(argv[0], argv.slice(1), { stdio: "ignore" });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.status !== 0) throw new Error(`${argv.join(" ")} exited ${r.status}`);
      if (i >= WARMUP) times[c].push(ms);
    });
  }
  return times.map(median);
}

const hasHyperfine = spawnSync("hyperfine", ["--version"], { stdio: "ignore" }).status === 0;
log(`timing ${commands.length} commands, ${RUNS} runs each, with ${hasHyperfine ? "hyperfine -N" : "a process.hrtime loop (hyperfine not installed)"}`);
const medians = hasHyperfine ? await withHyperfine() : withLoop();
const floor = medians[0];
const rows = commands.slice(1).map((argv, i) => {
  const ms = medians[i + 1];
  // The release artifacts: reported, no target (the single executable parses all seven commands' code at start).
  const artifact = argv[0] === sea || argv[1] === bundle || argv[1] === npm;
  return { metric: `${label(argv)} median ms`, slurmpipe: ms, baseline: floor, ratio: ms / floor, target: artifact ? "report" : `<= ${TARGET}x`, pass: artifact || ms / floor <= TARGET };
});
/** Bytes of a file, or of every file under a directory. */
const sizeOf = (path) => (statSync(path).isDirectory() ? readdirSync(path, { recursive: true }).reduce((n, f) => n + (statSync(join(path, f)).isFile() ? statSync(join(path, f)).size : 0), 0) : statSync(path).size);
const missed = printTable("4. CLI cold start: `<command> --help` (dist/cli.mjs) vs `node -e 0`", rows, [
  `median of ${RUNS} runs after ${WARMUP} warm-up runs, ${hasHyperfine ? "hyperfine -N" : "process.hrtime loop, round-robin over the commands"}; baseline = node -e 0 (${floor.toFixed(1)} ms)`,
  ...artifacts.map((f) => (f === npm ? `size of npm/ (slurmpipe.mjs and its chunks): ${(sizeOf(join(dist, "npm")) / 1e6).toFixed(2)} MB` : `size of ${f.split("/").at(-1)}: ${(sizeOf(f) / 1e6).toFixed(2)} MB`)),
]);
finish(missed);
