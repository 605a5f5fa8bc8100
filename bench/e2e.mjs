#!/usr/bin/env node
// Bench 6: end to end on the real local Slurm. The 216-run examples/tier3.yaml sweep of tiny jobs
// (train.py with max_steps / step_time overridden) through the whole pipe:
//   sweep-gen | slurm-render --profile local --array | slurm-submit | slurm-poll | log-parse | summary-md
// Pipeline overhead (wall time not spent running jobs, and slurmpipe's own CPU time) against the
// jobs' own run time (sum of sacct Elapsed; and the makespan, first start to last end).
// About a minute; `BENCH_E2E=0 pnpm bench` skips it.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { JOB_PREFIX, ROOT, cancelOnExit, cancelOwn, cleanup, cliPath, finish, log, printTable, scratch, setting, timed, wrapperBin } from "./lib.mjs";

const STEPS = setting("BENCH_E2E_STEPS", "50");
const STEP_TIME = setting("BENCH_E2E_STEP_TIME", "0.02");
const INTERVAL = setting("BENCH_E2E_INTERVAL", "5s");
const PREFIX = `${JOB_PREFIX}e2e`;
cancelOnExit(PREFIX);
const dir = scratch("e2e");
const w = wrapperBin(dir);

// A copy of the example in a scratch dir: the jobs write runs/ there, never into the repository.
// The only change: groups (hence array job names) carry the bench prefix, so they can be cancelled by name.
mkdirSync(join(dir, "examples"));
copyFileSync(join(ROOT, "examples", "train.py"), join(dir, "examples", "train.py"));
const sweep = readFileSync(join(ROOT, "examples", "tier3.yaml"), "utf8").replace(/^group: .*$/m, `group: "${PREFIX}-{variant}"`);
writeFileSync(join(dir, "tier3.yaml"), sweep);

const node = process.execPath;
const q = (s) => `'${s.replace(/'/g, "'\\''")}'`;
const pipeline = [
  `${q(node)} ${q(cliPath("sweep-gen"))} tier3.yaml -p max_steps=${STEPS} -p step_time=${STEP_TIME}`,
  `${q(node)} ${q(cliPath("slurm-render"))} --profile local --array --cpus-per-task 1 --mem 200M --time 00:05:00 -q`,
  `${q(node)} ${q(cliPath("slurm-submit"))} --state .slurmpipe -q`,
  `${q(node)} ${q(cliPath("slurm-poll"))} --state .slurmpipe --interval ${INTERVAL} --timeout 20m`,
  `${q(node)} ${q(cliPath("log-parse"))}`,
  `${q(node)} ${q(cliPath("summary-md"))} -o STATUS.md -q`,
].join(" | ");

let missed = 0;
try {
  const started = new Date(Date.now() - 1000);
  log(`running the 216-run tier3 sweep (max_steps=${STEPS}, step_time=${STEP_TIME}, poll every ${INTERVAL}) in ${dir}`);
  const env = { ...process.env, PATH: `${w.bin}:${process.env.PATH}` };
  // bash only to build the pipe between the commands (fixed text, quoted paths); set -o pipefail reports any stage failing
  const r = await timed("bash", ["-c", `set -o pipefail; ${pipeline}`], { cwd: dir, env, allowExit: [0, 1] });
  const ended = Date.now();
  const calls = w.calls();
  if (r.exitCode !== 0) log(`pipeline exited ${r.exitCode}: ${r.stderr.split("\n").slice(-5).join(" / ")}`);

  const acct = await execa("sacct", ["-n", "-P", "-X", "-S", started.toISOString().slice(0, 19), "-E", "now", "-o", "JobID,JobName,State,Start,End,ElapsedRaw"]);
  const jobs = String(acct.stdout).split("\n").map((l) => l.split("|")).filter((f) => f[1]?.startsWith(PREFIX) && /_\d+$/.test(f[0]));
  const completed = jobs.filter((f) => f[2] === "COMPLETED").length;
  const starts = jobs.map((f) => Date.parse(f[3])).filter(Number.isFinite);
  const ends = jobs.map((f) => Date.parse(f[4])).filter(Number.isFinite);
  const sumElapsed = jobs.reduce((a, f) => a + Number(f[5] || 0), 0);
  const makespan = (Math.max(...ends) - Math.min(...starts)) / 1000;
  const toFirstStart = (Math.min(...starts) - (ended - r.wall * 1000)) / 1000;
  const afterLastEnd = (ended - Math.max(...ends)) / 1000;
  const status = readFileSync(join(dir, "STATUS.md"), "utf8");
  const statusCompleted = (status.match(/^\| \S+ \| COMPLETED \| \d+_\d+ \|/gm) ?? []).length;
  log(`sacct: ${jobs.length} tasks, ${completed} COMPLETED; STATUS.md: ${statusCompleted} COMPLETED rows; calls: ${Object.entries(calls).filter(([k]) => k !== "lines").map(([k, v]) => `${k}=${v}`).join(" ")}`);

  missed += printTable("6. End to end: tier3.yaml, 216 tiny jobs on the real local Slurm", [
    { metric: "runs COMPLETED (sacct / STATUS.md)", slurmpipe: `${completed} / ${statusCompleted}`, target: "216 / 216", pass: completed === 216 && statusCompleted === 216 },
    { metric: "pipeline wall s vs jobs' makespan", slurmpipe: r.wall, baseline: makespan, ratio: r.wall / makespan },
    { metric: "  wall before the first job started s", slurmpipe: toFirstStart },
    { metric: "  wall after the last job ended s", slurmpipe: afterLastEnd, target: `~ poll interval (${INTERVAL})` },
    { metric: "slurmpipe CPU s (all stages) vs sum of job Elapsed s", slurmpipe: r.cpu, baseline: sumElapsed, ratio: r.cpu / sumElapsed },
    { metric: "peak RSS MB (largest stage)", slurmpipe: r.rssMb },
    { metric: "Slurm calls: sbatch / squeue / sacct", slurmpipe: `${calls.sbatch ?? 0} / ${calls.squeue ?? 0} / ${calls.sacct ?? 0}` },
  ], [
    `pipe: sweep-gen -p max_steps=${STEPS} -p step_time=${STEP_TIME} | slurm-render --profile local --array --cpus-per-task 1 --mem 200M`,
    `      | slurm-submit | slurm-poll --interval ${INTERVAL} | log-parse | summary-md -o STATUS.md; the cluster is shared, queue waits count as wall`,
    "makespan = last End - first Start (sacct); the time after the last end is the poll interval plus log-parse and summary-md",
  ]);
} finally {
  const n = await cancelOwn(PREFIX);
  if (n) log(`cancelled ${n} leftover job id(s)`);
  cleanup(dir);
}
finish(missed);
