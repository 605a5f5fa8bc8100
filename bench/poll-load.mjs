#!/usr/bin/env node
// Bench 1: controller load. Slurm client calls of one slurm-poll cycle while it tracks N jobs of the
// real local Slurm (N = 10, 100, 1000), counted through a wrapper bin dir (--slurm-bin) whose
// scripts log each call and exec the real squeue/sacct. Baseline, same jobs, same wrapper: the
// naive per-job loop of hand-written monitors (`squeue -j <id>` per job, and `sacct -j <id>` per
// job that has left the queue, to get its exit code).
//
// Jobs: one held array of 1,000 tasks (`sbatch --hold --array=0-999`) and 1,000 held plain jobs
// (the plain ones make slurm-poll pass 1,000 ids in one -j list). 10% of each set are cancelled
// first, so the cycle also has ended jobs to look up in sacct. Everything is cancelled at the end.
//
// Remote rows (issue #17; skipped with a note when /usr/sbin/sshd is missing or this is not root,
// BENCH_REMOTE=0 skips them): the same N = max cycle with `--remote` through a real sshd on
// 127.0.0.1 (test/remote/support/sshd.ts, bundled here with esbuild: a non-root test user whose
// login runs the wrappers), counting the Slurm calls on HOST and sshd's accepted connections.
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { execa } from "execa";
import { JOB_PREFIX, cancelOnExit, cancelOwn, cleanup, finish, log, printTable, scratch, setting, timedCli, wrapperBin } from "./lib.mjs";

const SIZES = (setting("BENCH_POLL_SIZES", "10,100,1000")).split(",").map(Number);
const MAX = Math.max(...SIZES);
const TAG = "0b0e0c0d01"; // 10 characters: the job-name tag slurm-poll checks (<name>.sp<run id prefix>)
const NAME = `${JOB_PREFIX}poll.sp${TAG}`;

cancelOnExit();
const dir = scratch("poll");
const w = wrapperBin(dir);

async function sbatch(args) {
  const r = await execa("sbatch", ["--parsable", "--hold", "-J", NAME, "-o", "/dev/null", "-p", "debug", "-t", "5", ...args, "--wrap", "true"]);
  return String(r.stdout).trim().split(";")[0];
}

function record(i, job) {
  return { kind: "run", id: `${TAG}${String(i).padStart(6, "0")}`, name: `${JOB_PREFIX}poll-${i}`, job: { name: NAME, submitted_at: new Date().toISOString(), ...job } };
}

async function pollOnce(records, remote) {
  const input = join(dir, "in.ndjson");
  writeFileSync(input, `${records.map((r) => JSON.stringify(r)).join("\n")}\n`);
  w.reset();
  const out = join(dir, "out.ndjson");
  const via = remote ? ["--remote", remote.host, "--remote-batch-mode"] : [];
  const r = await timedCli("slurm-poll", ["--once", "--no-ledger", "--state", join(dir, `state-${Math.random()}`), "--slurm-bin", w.bin, ...via], {
    stdin: input,
    stdout: out,
    allowExit: [0, 1, 3],
    ...(remote ? { env: { ...process.env, SLURMPIPE_SSH: remote.sshBin } } : {}),
  });
  const states = new Map();
  for (const line of readFileSync(out, "utf8").split("\n")) {
    if (!line) continue;
    const rec = JSON.parse(line);
    if (rec.kind !== "event" && rec.state) states.set(rec.state.state, (states.get(rec.state.state) ?? 0) + 1);
  }
  return { calls: w.calls(), wall: r.wall, rssMb: r.rssMb, states };
}

/** The naive monitor: one squeue per job, then one sacct per job that left the queue or ended. */
async function naive(ids) {
  w.reset();
  const env = { ...process.env, PATH: `${w.bin}:${process.env.PATH}` };
  const t0 = performance.now();
  for (const id of ids) {
    const q = await execa("squeue", ["-h", "-j", id, "-o", "%T"], { env, reject: false });
    const state = String(q.stdout).trim();
    if (state === "" || /CANCELLED|COMPLETED|FAILED|TIMEOUT/.test(state)) {
      await execa("sacct", ["-n", "-P", "-X", "-j", id, "-o", "State,ExitCode"], { env, reject: false });
    }
  }
  return { calls: w.calls(), wall: (performance.now() - t0) / 1000 };
}

let remoteStop;
/** The real sshd of test/remote (bundled), or undefined with a note: see the top of this file. */
async function startRemote() {
  if (setting("BENCH_REMOTE", "1") === "0") return undefined;
  if (!existsSync("/usr/sbin/sshd") || process.getuid?.() !== 0) {
    log("remote rows skipped: they need /usr/sbin/sshd (openssh-server) and root (a test user is created)");
    return undefined;
  }
  const support = join(fileURLToPath(new URL("..", import.meta.url)), "test/remote/support/sshd.ts");
  const bundled = join(dir, "sshd-support.mjs");
  await build({ entryPoints: [support], bundle: true, platform: "node", format: "esm", outfile: bundled, logLevel: "silent", banner: { js: 'import { createRequire } from "node:module"; const require = createRequire(import.meta.url);' } });
  const { startSshd } = await import(bundled);
  const sshd = await startSshd();
  remoteStop = () => sshd.stop();
  // HOST's login (the test user) runs the wrappers and appends to their call log.
  for (const p of [dir, w.bin]) chmodSync(p, 0o755);
  chmodSync(w.log, 0o666);
  return { sshd };
}

let missed = 0;
try {
  log(`submitting a held array of ${MAX} tasks and ${MAX} held plain jobs named ${NAME}`);
  const arrayId = await sbatch([`--array=0-${MAX - 1}`]);
  const plainIds = [];
  for (let i = 0; i < MAX; i++) plainIds.push(await sbatch([]));
  // 10% ended (cancelled), so the cycle has jobs to ask sacct about
  const cancelEvery = 10;
  await execa("scancel", [`${arrayId}_[${Array.from({ length: MAX / cancelEvery }, (_, k) => k * cancelEvery).join(",")}]`]);
  await execa("scancel", plainIds.filter((_, i) => i % cancelEvery === 0));
  await new Promise((r) => setTimeout(r, 2000));

  const remote = await startRemote();
  for (const kind of ["array", "plain"]) {
    const rows = [];
    for (const n of SIZES) {
      const ids = kind === "array" ? Array.from({ length: n }, (_, i) => `${arrayId}_${i}`) : plainIds.slice(0, n);
      const records = ids.map((id, i) =>
        kind === "array" ? record(i, { id, array_job_id: arrayId, array_task: i }) : record(i, { id }),
      );
      const sp = await pollOnce(records);
      const base = await naive(ids);
      const seen = [...sp.states].map(([s, c]) => `${c} ${s}`).join(", ");
      log(`${kind} N=${n}: slurm-poll ${sp.calls.total} calls (${sp.calls.lines.map((l) => l.split(" ")[0]).join(", ")}) in ${sp.wall}s, states: ${seen}; naive ${base.calls.total} calls in ${base.wall.toFixed(2)}s`);
      const spCalls = (sp.calls.squeue ?? 0) + (sp.calls.sacct ?? 0);
      const baseCalls = (base.calls.squeue ?? 0) + (base.calls.sacct ?? 0);
      rows.push({ metric: `Slurm calls/cycle, N=${n}`, slurmpipe: spCalls, baseline: baseCalls, ratio: spCalls / baseCalls, target: "<= 2", pass: spCalls <= 2 });
      rows.push({ metric: `cycle wall s, N=${n}`, slurmpipe: sp.wall, baseline: base.wall, ratio: sp.wall / base.wall });
      const pending = sp.states.get("PENDING") ?? 0;
      const total = [...sp.states.values()].reduce((a, c) => a + c, 0);
      const wantPending = ids.filter((_, i) => i % cancelEvery !== 0).length;
      rows.push({ metric: `N=${n}: states reported (${seen})`, slurmpipe: total, baseline: n, target: `${wantPending} PENDING`, pass: total === n && pending === wantPending });
      if (remote && n === MAX) {
        // The same cycle from "the laptop": Slurm runs on HOST over ssh; the baseline is the local cycle.
        const before = remote.sshd.accepted();
        const rp = await pollOnce(records, remote.sshd);
        const conns = remote.sshd.accepted() - before;
        const rCalls = (rp.calls.squeue ?? 0) + (rp.calls.sacct ?? 0);
        const sameStates = [...rp.states].sort().join() === [...sp.states].sort().join();
        log(`${kind} N=${n} --remote: ${rp.calls.total} calls (${rp.calls.lines.map((l) => l.split(" ")[0]).join(", ")}), ${conns} ssh connection(s), ${rp.wall}s`);
        rows.push({ metric: `--remote: Slurm calls/cycle on HOST, N=${n}`, slurmpipe: rCalls, baseline: spCalls, ratio: rCalls / spCalls, target: "<= 2", pass: rCalls <= 2 });
        rows.push({ metric: `--remote: ssh connections/cycle, N=${n}`, slurmpipe: conns, baseline: 1, target: "1", pass: conns === 1 });
        rows.push({ metric: `--remote: cycle wall s, N=${n}`, slurmpipe: rp.wall, baseline: sp.wall, ratio: rp.wall / sp.wall });
        rows.push({ metric: `--remote: states equal the local cycle's, N=${n}`, slurmpipe: sameStates ? "yes" : [...rp.states].join(" "), baseline: seen, target: "equal", pass: sameStates });
      }
    }
    missed += printTable(`1. Controller load: slurm-poll --once vs a per-job loop (${kind === "array" ? "1 array of tasks" : "plain jobs"}, real Slurm)`, rows, [
      "baseline: `squeue -h -j ID` per job, plus `sacct -j ID` per job no longer pending (10% were cancelled)",
      "cancelled tasks of a pending array vanish from squeue and sacct in Slurm 22.05: slurm-poll reports them UNKNOWN (never terminal)",
      "slurm-poll's calls include every squeue and sacct it ran; wall = the whole process (node start included)",
    ]);
  }
} finally {
  await remoteStop?.();
  const n = await cancelOwn(`${JOB_PREFIX}poll`);
  log(`cancelled ${n} job id(s) named ${JOB_PREFIX}poll*`);
  cleanup(dir);
}
finish(missed);
