#!/usr/bin/env node
// Bench 7: a 100,000-run sweep through every stage: sweep-gen, slurm-render --array, slurm-submit,
// one slurm-poll cycle, summary-md; wall time and peak RSS per stage, Slurm calls per poll cycle.
//
// The local cluster cannot hold 100,000 jobs: MaxJobCount (10,000 by default) counts every array
// task, and other people share the queue. So sbatch/squeue/sacct are a simulated client here: a
// --slurm-bin dir whose sbatch hands out job ids (and remembers each script's --array spec and the
// job name), whose squeue prints every task of the requested arrays as PENDING (JobHeldUser) in the
// exact `-o` format slurm-poll asks for (lines as the real 22.05 squeue prints them for a held
// array), and whose sacct prints nothing. scontrol is the real one. Every call is logged and counted.
// What this measures is slurmpipe's own cost at 100k runs; the 1,000-job figures on the real
// Slurm are in poll-load.mjs and submit.mjs. A `slurm-submit --dry-run` row is added for reference.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, finish, log, printTable, scratch, setting, timedCli, wrapperBin } from "./lib.mjs";

const N = Number(setting("BENCH_SCALE_RUNS", 100_000));
const dir = scratch("scale");
const map = join(dir, "fake-jobs.map");
const counter = join(dir, "fake-jobs.next");
writeFileSync(map, "");
writeFileSync(counter, "90000000\n");

const fake = {
  sbatch: [
    "name=; script=",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a bash parameter expansion, not a template
    'for a in "$@"; do case "$a" in --job-name=*) name="${a#--job-name=}";; -*) ;; *) script="$a";; esac; done',
    `id=$(cat '${counter}'); echo $((id + 1)) > '${counter}'`,
    'spec=$(sed -n "s/^#SBATCH --array=\\([0-9,%-]*\\).*/\\1/p" "$script" | head -1)',
    `printf '%s|%s|%s|%s\\n' "$id" "\${spec:-}" "$name" "$(date +%Y-%m-%dT%H:%M:%S)" >> '${map}'`,
    'echo "$id"',
  ].join("\n"),
  squeue: [
    'ids=; while [ $# -gt 0 ]; do [ "$1" = -j ] && { ids="$2"; shift; }; shift; done\n' +
    `exec awk -F'|' -v ids="$ids" 'BEGIN { n = split(ids, a, ","); for (i = 1; i <= n; i++) want[a[i]] = 1 }`,
    "want[$1] { if ($2 == \"\") { printf \"%s|%s|%s|N/A|PENDING|JobHeldUser|0:00|10:00||N/A|N/A|%s|4G|(null)|%s\\n\", $1, $1, $1, $4, $3; next }",
    '  split($2, r, "%"); m = split(r[1], parts, ",");',
    '  for (p = 1; p <= m; p++) { lo = parts[p]; hi = parts[p]; if (index(parts[p], "-")) { split(parts[p], b, "-"); lo = b[1]; hi = b[2] }',
    "    for (t = lo + 0; t <= hi + 0; t++) printf \"%s_%d|%s|%s|%d|PENDING|JobHeldUser|0:00|10:00||N/A|N/A|%s|4G|(null)|%s\\n\", $1, t, $1, $1, t, $4, $3 } }'",
    ` '${map}'`,
  ].join(" "),
  sacct: "exit 0",
};
const w = wrapperBin(dir, fake);

const sweep = join(dir, "sweep.yaml");
writeFileSync(
  sweep,
  [
    "command: [python, train.py]",
    "args: hydra",
    'name: "s{a}_{b}"',
    "group: spbench-scale",
    "params: {max_steps: 2000}",
    `grid: {a: "0..${N / 1000 - 1}", b: "0..999"}`,
    'resources: {time: "00:10:00", mem: 4G, cpus_per_task: 1}',
    "",
  ].join("\n"),
);

const lines = (p) => readFileSync(p, "utf8").split("\n").filter(Boolean);

try {
  const f = (name) => join(dir, name);
  const stages = [];
  const stage = async (name, cmd, args, stdin, stdout, allowExit = [0]) => {
    w.reset();
    const r = await timedCli(cmd, args, { stdin, stdout, allowExit });
    const calls = w.calls();
    log(`${name}: ${r.wall}s, ${r.rssMb.toFixed(0)} MB, exit ${r.exitCode}; slurm calls: ${Object.entries(calls).filter(([k]) => k !== "lines").map(([k, v]) => `${k}=${v}`).join(" ")}`);
    stages.push({ name, ...r, calls });
    return r;
  };
  await stage("sweep-gen", "sweep-gen", [sweep], undefined, f("runs.ndjson"));
  await stage("slurm-render --array", "slurm-render", ["--profile", "local", "--array", "--out", f("runs"), "-q"], f("runs.ndjson"), f("rendered.ndjson"));
  await stage("slurm-submit", "slurm-submit", ["--state", f("state"), "--slurm-bin", w.bin, "--sbatch-arg=--hold", "-q"], f("rendered.ndjson"), f("submitted.ndjson"));
  await stage("slurm-poll --once", "slurm-poll", ["--once", "--no-ledger", "--state", f("poll-state"), "--slurm-bin", w.bin], f("submitted.ndjson"), f("polled.ndjson"), [0, 3]);
  await stage("summary-md", "summary-md", ["--no-plots", "--now", "2026-01-01T00:00:00Z", "-q"], f("polled.ndjson"), f("STATUS.md"));
  const submitStage = stages[2];
  const pollStage = stages[3];
  const arrays = submitStage.calls.sbatch ?? 0;
  const dry = await timedCli("slurm-submit", ["--dry-run", "--state", f("dry-state"), "--slurm-bin", w.bin, "-q"], { stdin: f("rendered.ndjson"), stdout: f("dry.ndjson"), allowExit: [0] });

  const submitted = lines(f("submitted.ndjson")).filter((l) => l.includes('"job":{"id"')).length;
  const pending = lines(f("polled.ndjson")).filter((l) => l.includes('"state":{"state":"PENDING"')).length;
  const statusRows = readFileSync(f("STATUS.md"), "utf8").split("\n").filter((l) => /^\| \S+ \| PENDING \| 9\d+_\d+ \|/.test(l)).length;
  log(`${submitted} runs with a job id in ${arrays} arrays; ${pending} PENDING records from the poll; ${statusRows} PENDING rows in STATUS.md`);

  const total = stages.reduce((a, s) => a + s.wall, 0);
  const peak = Math.max(...stages.map((s) => s.rssMb));
  const pollCalls = (pollStage.calls.squeue ?? 0) + (pollStage.calls.sacct ?? 0);
  const rows = stages.map((s) => ({ metric: `${s.name}: wall s / peak RSS MB`, slurmpipe: `${s.wall.toFixed(2)} / ${s.rssMb.toFixed(0)}`, target: "< 500 MB", pass: s.rssMb < 500 }));
  rows.push(
    { metric: "total wall s (all stages)", slurmpipe: total, target: "< 60 s", pass: total < 60 },
    { metric: "peak RSS MB (any stage)", slurmpipe: peak, target: "< 500 MB", pass: peak < 500 },
    { metric: "Slurm calls in the poll cycle (vs N squeue -j)", slurmpipe: pollCalls, baseline: N, ratio: pollCalls / N, target: "<= 2", pass: pollCalls <= 2 },
    { metric: "sbatch calls (vs one per run)", slurmpipe: arrays, baseline: N, ratio: arrays / N },
    { metric: "runs with a job id / PENDING after the poll", slurmpipe: `${submitted} / ${pending}`, target: `${N} / ${N}`, pass: submitted === N && pending === N },
    { metric: "STATUS.md rows PENDING", slurmpipe: statusRows, target: `${N}`, pass: statusRows === N },
    { metric: "slurm-submit --dry-run: wall s / peak RSS MB", slurmpipe: `${dry.wall.toFixed(2)} / ${dry.rssMb.toFixed(0)}` },
  );
  const missed = printTable(`7. Scale: a ${N.toLocaleString("en-US")}-run sweep through every stage (simulated Slurm client)`, rows, [
    "sweep-gen | slurm-render --profile local --array | slurm-submit --sbatch-arg=--hold | slurm-poll --once | summary-md --no-plots, one stage at a time, files in between",
    `the local cluster cannot hold ${N} jobs (MaxJobCount counts array tasks): sbatch/squeue/sacct are a logged fake (see the header of bench/scale.mjs)`,
  ]);
  finish(missed);
} finally {
  cleanup(dir);
}
