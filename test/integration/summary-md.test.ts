import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDuration, parseMemory, parseSlurmTime, parseState } from "@slurmpipe/core";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { cliPath, runCli } from "../support/cli.ts";
import { describeSlurm, requireCluster, waitForJobs } from "../support/slurm.ts";

/**
 * summary-md against real jobs: a tiny "training" script that prints loss lines, run to completion,
 * made to fail with a Python-style traceback, cancelled, and held pending. Records carry the real
 * sacct/squeue state; the built summary-md must show the right statuses and job ids.
 */

const TRAIN = `#!/bin/bash
# Prints realistic loss lines; MODE decides how the run ends.
echo "Using device: cpu"
for step in 10 20 30 40 50; do
  loss=$(awk -v s=$step 'BEGIN { printf "%.4f", 2.3 * exp(-s / 40) }')
  echo "step $step | loss $loss | lr 0.1"
done
case "$MODE" in
  ok) sleep 2; exit 0 ;;
  crash)
    echo 'Traceback (most recent call last):' >&2
    echo '  File "train.py", line 88, in collate_fn' >&2
    echo "KeyError: 'labels'" >&2
    exit 1 ;;
  sleep) sleep 300 ;;
esac
`;

interface Submitted {
  name: string;
  mode: string;
  jobId: string;
}

const tag = `smd-it-${process.pid}`;
let dir = "";
const jobs: Submitted[] = [];

async function sbatch(name: string, mode: string, extra: string[] = []): Promise<Submitted> {
  const r = await execa(
    "sbatch",
    ["--parsable", "-J", `${tag}-${name}`, "-o", join(dir, "%x.%j.out"), "-e", join(dir, "%x.%j.err"), "-t", "00:05:00", "--mem", "100M", `--export=ALL,MODE=${mode}`, ...extra, join(dir, "train.sh")],
    { cwd: dir },
  );
  const job = { name, mode, jobId: String(r.stdout).trim().split(";")[0]! };
  jobs.push(job);
  return job;
}

/** The record slurm-poll would emit for a job, from one sacct line (job + steps for MaxRSS). */
async function recordFromSacct(job: Submitted): Promise<Record<string, unknown>> {
  const r = await execa("sacct", ["-n", "-P", "--noconvert", "-j", job.jobId, "-o", "JobID,State,ExitCode,Start,End,Elapsed,Timelimit,ReqMem,MaxRSS,NodeList"]);
  const rows = String(r.stdout).trim().split("\n").filter(Boolean).map((l) => l.split("|"));
  const main = rows.find((row) => row[0] === job.jobId)!;
  const [, stateText, exit, start, end, elapsed, limit, reqMem, , nodes] = main;
  const parsed = parseState(stateText!);
  const rss = rows.map((row) => parseMemory(row[8] ?? "", 1)).filter((n): n is number => n !== undefined);
  const started = parseSlurmTime(start!);
  const ended = parseSlurmTime(end!);
  const state: Record<string, unknown> = {
    state: parsed.state,
    category: parsed.category,
    terminal: parsed.terminal,
    exit_code: exit,
    elapsed_s: parseDuration(elapsed!) ?? undefined,
    time_limit_s: parseDuration(limit!) ?? undefined,
    req_mem_bytes: parseMemory(reqMem!),
    node_list: nodes,
    source: "sacct",
  };
  if (started) state.started_at = started;
  if (ended) state.ended_at = ended;
  if (rss.length) state.max_rss_bytes = Math.max(...rss);
  return base(job, state);
}

function base(job: Submitted, state?: Record<string, unknown>): Record<string, unknown> {
  return {
    id: `id-${job.name}`,
    name: job.name,
    group: "it",
    params: { mode: job.mode, max_steps: 500 },
    command: ["bash", "train.sh"],
    logs: { stdout: join(dir, "%x.%j.out"), stderr: join(dir, "%x.%j.err") },
    job: { id: job.jobId, name: `${tag}-${job.name}`, cluster: "local", submitted_at: new Date().toISOString() },
    ...(state ? { state } : {}),
  };
}

describeSlurm("summary-md on real jobs", () => {
  const records: Record<string, unknown>[] = [];
  const expected: Record<string, unknown>[] = [];

  beforeAll(async () => {
    requireCluster();
    dir = mkdtempSync(join(tmpdir(), "summary-md-it-"));
    writeFileSync(join(dir, "train.sh"), TRAIN, { mode: 0o755 });
    const ok = await sbatch("ok", "ok");
    const crash = await sbatch("crash", "crash");
    const cancelled = await sbatch("cancelled", "sleep");
    const held = await sbatch("held", "sleep", ["--hold"]);
    await execa("scancel", [cancelled.jobId]);
    const states = await waitForJobs([ok.jobId, crash.jobId, cancelled.jobId], 150_000);
    expect(states.size).toBe(3);
    for (const job of [ok, crash, cancelled]) records.push(await recordFromSacct(job));
    // The held job never leaves PENDING: squeue has its state.
    const sq = await execa("squeue", ["-h", "-j", held.jobId, "-o", "%T|%r"]);
    const [st, reason] = String(sq.stdout).trim().split("|");
    const p = parseState(st!);
    records.push(base(held, { state: p.state, category: p.category, terminal: p.terminal, reason, source: "squeue" }));
    for (const r of records) expected.push({ id: r.id, name: r.name, group: "it", params: r.params, command: r.command });
    expected.push({ id: "id-never", name: "never", group: "it", params: { mode: "ok" }, command: ["bash", "train.sh"] });
    writeFileSync(join(dir, "records.ndjson"), `${records.map((r) => JSON.stringify(r)).join("\n")}\n`);
    writeFileSync(join(dir, "expected.ndjson"), `${expected.map((r) => JSON.stringify(r)).join("\n")}\n`);
  }, 200_000);

  afterAll(async () => {
    // Only our own jobs: the held one (and anything a failed setup left behind).
    const ids = jobs.map((j) => j.jobId);
    if (ids.length) await execa("scancel", ids, { reject: false });
  });

  it("the status table shows each job's real state and id, and the missing run", async () => {
    const r = await runCli("summary-md", ["records.ndjson", "--expected", "expected.ndjson", "-o", "STATUS.md", "--now", "2025-10-24T03:00:00Z"], { cwd: dir });
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    const md = readFileSync(join(dir, "STATUS.md"), "utf8");
    const row = (name: string) => md.split("\n").find((l) => l.startsWith(`| ${name} |`)) ?? "";
    const id = (name: string) => jobs.find((j) => j.name === name)!.jobId;
    expect(row("ok")).toMatch(new RegExp(`^\\| ok \\| COMPLETED \\| ${id("ok")} \\| \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d \\|`));
    expect(row("crash")).toContain(`| FAILED | ${id("crash")} |`);
    expect(row("crash")).toContain("exit 1:0");
    expect(row("cancelled")).toContain(`| CANCELLED | ${id("cancelled")} |`);
    expect(row("held")).toContain(`| PENDING | ${id("held")} |`);
    expect(row("held")).toMatch(/reason JobHeldUser/);
    expect(row("never")).toContain("| MISSING | - |");
    expect(md).toContain("**1 of 5 completed (20%)**");
    expect(md).toContain(`jq -c 'select(.id | IN("id-never"))' expected.ndjson | slurm-render | slurm-submit`);
    expect(md).toContain(`jq -c 'select(.id | IN("id-crash"))' expected.ndjson | slurm-render | slurm-submit --resubmit failed`);
  });

  it("--update fills the torchtune table from the same records", async () => {
    const doc = join(dir, "experiment_summary.md");
    const before = "# it\n\n| Run Name | Status | Job ID | Started | Completed | Notes |\n|---|---|---|---|---|---|\n| ok | PENDING | - | - | - | - |\n| control | N/A | - | - | - | control |\n";
    writeFileSync(doc, before);
    const r = await runCli("summary-md", ["--update", doc, "records.ndjson"], { cwd: dir });
    expect(r.exitCode).toBe(0);
    const after = readFileSync(doc, "utf8");
    const lines = after.split("\n");
    expect(lines.slice(0, 4)).toEqual(before.split("\n").slice(0, 4));
    expect(lines[4]).toMatch(new RegExp(`^\\| ok \\| COMPLETED \\| ${jobs[0]!.jobId} \\| \\d{4}`));
    expect(lines[5]).toBe("| control | N/A | - | - | - | control |");
    // Runs the table did not have are appended at its end, by name.
    expect(lines.slice(6, 9).map((l) => l.split(" | ")[0])).toEqual(["| cancelled", "| crash", "| held"]);
    expect(lines[7]).toContain(`| crash | FAILED | ${jobs[1]!.jobId} |`);
  });

  it("--sample on the completed job: READY, with the wall time extrapolated", async () => {
    const ok = records[0]!;
    writeFileSync(join(dir, "ok.ndjson"), `${JSON.stringify({ ...ok, report: { steps_seen: 50, loss: { first: 1.79, last: 0.66, min: 0.66, trend: "DECREASING" } } })}\n`);
    const r = await runCli("summary-md", ["--sample", "--no-plots", "--full-steps", "5000", "ok.ndjson"], { cwd: dir });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`- Job ID: ${jobs[0]!.jobId}`);
    expect(r.stdout).toContain("**READY** for a full run.");
    expect(r.stdout).toMatch(/- Estimated wall time: \d\d:\d\d:00 \(/);
  });

  it.runIf(existsSync(cliPath("log-parse")))("log-parse | summary-md classifies the crash from its real stderr", async () => {
    const parse = await execa("node", [cliPath("log-parse")], { cwd: dir, reject: false, inputFile: join(dir, "records.ndjson") });
    writeFileSync(join(dir, "parsed.ndjson"), String(parse.stdout));
    const r = await runCli("summary-md", ["parsed.ndjson", "--no-plots"], { cwd: dir });
    expect(r.stdout).toContain(`| crash | FAILED | ${jobs[1]!.jobId} |`);
    expect(r.stdout).toContain("- **PYTHON_EXCEPTION**: KeyError: 'labels'");
    expect(r.stdout).toContain(`${jobs[1]!.jobId}.err:3\` \`KeyError: 'labels'\``);
  });
});
