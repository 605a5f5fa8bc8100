#!/usr/bin/env node
// Bench 2: submission of 1,000 runs on the real local Slurm, as array jobs (slurm-render --array +
// slurm-submit) against one sbatch per run (slurm-render + slurm-submit, and a plain bash-style
// loop of `sbatch` over the same scripts). All jobs are held (--sbatch-arg=--hold / sbatch --hold)
// and cancelled after each phase, so nothing runs and the queue never holds more than 1,000 of them.
// Slurm client calls are counted through a wrapper bin dir (--slurm-bin / PATH).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { JOB_PREFIX, cancelOnExit, cancelOwn, cleanup, finish, log, printTable, scratch, setting, timedCli, wrapperBin } from "./lib.mjs";

const N = Number(setting("BENCH_SUBMIT_RUNS", 1000));
const PREFIX = `${JOB_PREFIX}sub`;
cancelOnExit();
const dir = scratch("submit");
const w = wrapperBin(dir);

const sweep = join(dir, "sweep.yaml");
writeFileSync(
  sweep,
  [
    "command: [sleep, '1']",
    "args: none",
    `name: "${PREFIX}-{i}"`,
    `group: ${PREFIX}`,
    `grid: {i: 0..${N - 1}}`,
    'resources: {time: "00:05:00", mem: 100M, cpus_per_task: 1}',
    "",
  ].join("\n"),
);

const count = (path) => readFileSync(path, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));

async function submit(label, rendered, state) {
  w.reset();
  const out = join(dir, `${label}.submitted.ndjson`);
  const r = await timedCli("slurm-submit", ["--state", join(dir, state), "--slurm-bin", w.bin, "--sbatch-arg=--hold", "-q"], { stdin: rendered, stdout: out });
  const recs = count(out);
  const withJob = recs.filter((x) => x.job?.id).length;
  const calls = w.calls();
  log(`${label}: ${withJob}/${recs.length} runs got a job id; calls: ${Object.entries(calls).filter(([k]) => k !== "lines").map(([k, v]) => `${k}=${v}`).join(" ")}; ${r.wall}s`);
  const cancelled = await cancelOwn(PREFIX);
  log(`${label}: cancelled ${cancelled} job id(s)`);
  return { ...r, calls, withJob };
}

let missed = 0;
try {
  const runs = join(dir, "runs.ndjson");
  await timedCli("sweep-gen", [sweep], { stdout: runs });
  const perRun = join(dir, "per-run.ndjson");
  const arrays = join(dir, "arrays.ndjson");
  const renderPer = await timedCli("slurm-render", ["--profile", "local", "--out", join(dir, "per-run"), "-q"], { stdin: runs, stdout: perRun });
  const renderArr = await timedCli("slurm-render", ["--profile", "local", "--array", "--out", join(dir, "array"), "-q"], { stdin: runs, stdout: arrays });
  const arrayCount = new Set(count(arrays).map((x) => x.script?.array?.id)).size;
  log(`rendered ${N} runs: ${arrayCount} array script(s); ${renderPer.wall}s per-run, ${renderArr.wall}s array`);

  const arr = await submit("array", arrays, "state-array");
  const per = await submit("per-run", perRun, "state-per-run");

  // The hand-written baseline: one `sbatch --hold` per rendered script, in its directory
  w.reset();
  const scripts = count(perRun).map((x) => x.script.path);
  const env = { ...process.env, PATH: `${w.bin}:${process.env.PATH}` };
  const t0 = performance.now();
  for (const s of scripts) await execa("sbatch", ["--parsable", "--hold", `--job-name=${PREFIX}-loop`, s], { env, cwd: join(s, "..") });
  const loopWall = (performance.now() - t0) / 1000;
  const loopCalls = w.calls();
  const cancelled = await cancelOwn(PREFIX);
  log(`sbatch loop: ${loopCalls.total} calls, ${loopWall.toFixed(2)}s; cancelled ${cancelled}`);

  const slurmCalls = (c) => c.total;
  missed += printTable(`2. Submission of ${N.toLocaleString("en-US")} runs (held, real Slurm): arrays vs one sbatch per run`, [
    { metric: "runs with a job id", slurmpipe: arr.withJob, baseline: per.withJob, target: `= ${N}`, pass: arr.withJob === N && per.withJob === N },
    { metric: "sbatch calls (vs slurm-submit per run)", slurmpipe: arr.calls.sbatch ?? 0, baseline: per.calls.sbatch ?? 0, ratio: (arr.calls.sbatch ?? 0) / (per.calls.sbatch ?? 1), target: `= ${arrayCount} (arrays)`, pass: arr.calls.sbatch === arrayCount },
    { metric: "all Slurm calls (vs slurm-submit per run)", slurmpipe: slurmCalls(arr.calls), baseline: slurmCalls(per.calls), ratio: slurmCalls(arr.calls) / slurmCalls(per.calls) },
    { metric: "submit wall s (vs slurm-submit per run)", slurmpipe: arr.wall, baseline: per.wall, ratio: arr.wall / per.wall },
    { metric: "all Slurm calls (vs bare sbatch loop)", slurmpipe: slurmCalls(arr.calls), baseline: loopCalls.total, ratio: slurmCalls(arr.calls) / loopCalls.total },
    { metric: "submit wall s (vs bare sbatch loop)", slurmpipe: arr.wall, baseline: loopWall, ratio: arr.wall / loopWall },
    { metric: "per-run mode: wall s vs bare sbatch loop", slurmpipe: per.wall, baseline: loopWall, ratio: per.wall / loopWall },
    { metric: "render wall s (array vs per-run scripts)", slurmpipe: renderArr.wall, baseline: renderPer.wall, ratio: renderArr.wall / renderPer.wall },
    { metric: "submit peak RSS MB (array vs per run)", slurmpipe: arr.rssMb, baseline: per.rssMb, ratio: arr.rssMb / per.rssMb },
  ], [
    `slurmpipe: slurm-render --profile local --array | slurm-submit --sbatch-arg=--hold (${arrayCount} array job(s))`,
    "baselines: slurm-render --profile local | slurm-submit --sbatch-arg=--hold (one sbatch per run, ledger + tags),",
    "           and a bare loop `sbatch --parsable --hold SCRIPT` per script (no ledger, no reconciliation)",
    `calls counted through a wrapper --slurm-bin; every job cancelled after its phase (name prefix ${PREFIX})`,
  ]);
} finally {
  await cancelOwn(PREFIX);
  cleanup(dir);
}
finish(missed);
