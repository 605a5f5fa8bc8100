import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { taggedJobName } from "@slurmpipe/core";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { records, repoRoot, runCli } from "../support/cli.ts";

// A private three-node instance (scripts/slurm-dev up --nodes 3) beside the shared cluster: its
// own state directory and ports, never /etc/slurm/slurm.conf. Needs root (network namespaces).
const state = "/tmp/slurmpipe-nodes-dev";
const env = { SLURM_DEV_STATE: state, SLURM_DEV_PORT_BASE: "7817", SLURM_DEV_DB_PORT: "3407", SLURM_CONF: `${state}/etc/slurm.conf` };
const slurmDev = (args: string[]) => execa(join(repoRoot, "scripts/slurm-dev"), args, { env, reject: false });
const isRoot = process.getuid?.() === 0;
const run = isRoot || process.env.CI === "true" ? describe : describe.skip;

run("a three-node Slurm in network namespaces", () => {
  let startedHere = false;
  beforeAll(async () => {
    startedHere = (await slurmDev(["status"])).exitCode !== 0;
    const up = await slurmDev(["up", "--nodes", "3"]);
    if (up.exitCode !== 0) throw new Error(`slurm-dev up --nodes 3 failed:\n${up.stderr}`);
  }, 600_000);
  afterAll(async () => {
    if (startedHere) await slurmDev(["down"]);
  }, 300_000);

  it("srun -N 3 runs one task on each node, each at its own address", async () => {
    const r = await execa("srun", ["-N", "3", "-n", "3", "bash", "-c", 'echo "$SLURMD_NODENAME $(hostname -I)"'], { env, timeout: 120_000 });
    const lines = String(r.stdout).trim().split("\n").sort();
    expect(lines.map((l) => l.split(" ")[0])).toEqual(["node1", "node2", "node3"]);
    expect(new Set(lines.map((l) => l.split(" ")[1])).size).toBe(3);
  });

  it("cgroup memory limit: a job past --mem is killed by the kernel, OUT_OF_MEMORY, HOST_OOM with increase_mem", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-oom-"));
    const runId = `oom${Date.now().toString(36)}0000000000`.slice(0, 12);
    const name = taggedJobName("sp-nodes-oom", runId);
    const out = join(dir, "oom-%j.out");
    const grow = 'python3 -c "b = b\\"x\\" * (600 << 20)"';
    const sb = await execa("sbatch", ["--parsable", "--no-requeue", "--mem=100M", "-J", name, "-o", out, "--wrap", grow], { env, cwd: dir });
    const id = String(sb.stdout).trim();
    const rec = { id: runId, name: "oom", resources: { mem: "100M" }, job: { id, name, submitted_at: new Date().toISOString() }, logs: { stdout: out } };
    const poll = await runCli("slurm-poll", ["--state", join(dir, "state"), "--interval", "2s", "--timeout", "240s"], { env, input: `${JSON.stringify(rec)}\n` });
    const polled = records(poll.stdout).filter((r) => r.kind !== "event");
    expect(polled[0]?.state).toMatchObject({ state: "OUT_OF_MEMORY", category: "failure", terminal: true });
    const parsed = await runCli("log-parse", [], { env, input: `${JSON.stringify(polled[0])}\n` });
    const report = records(parsed.stdout)[0]?.report as { failures: { class: string }[] };
    expect(report.failures[0]?.class).toBe("HOST_OOM");
    expect(JSON.stringify(report.failures[0])).toContain('"increase_mem"');
  }, 300_000);

  it("the real PyTorch loop (examples/real) allocating past --mem: killed by the kernel, OUT_OF_MEMORY, HOST_OOM", async () => {
    const python = String((await execa("bash", [join(repoRoot, "scripts/real-venv")])).stdout).trim();
    const dir = mkdtempSync(join(tmpdir(), "sp-oom-real-"));
    const runId = `oomr${Date.now().toString(36)}0000000000`.slice(0, 12);
    const name = taggedJobName("sp-nodes-oom-real", runId);
    const out = join(dir, "oom-%j.out");
    const err = join(dir, "oom-%j.err");
    const train = [python, join(repoRoot, "examples/real/plain_loop.py"), "fail=oom", "fail_at=10", "oom_mb=4096", "log_every=1"];
    const sb = await execa("sbatch", ["--parsable", "--no-requeue", "--mem=1G", "-J", name, "-o", out, "-e", err, "--wrap", train.join(" ")], { env, cwd: dir });
    const id = String(sb.stdout).trim();
    const rec = { id: runId, name: "oom-real", dir, resources: { mem: "1G" }, job: { id, name, submitted_at: new Date().toISOString() }, logs: { stdout: out, stderr: err } };
    const poll = await runCli("slurm-poll", ["--state", join(dir, "state"), "--interval", "2s", "--timeout", "240s"], { env, input: `${JSON.stringify(rec)}\n` });
    const polled = records(poll.stdout).filter((r) => r.kind !== "event");
    expect(polled[0]?.state).toMatchObject({ state: "OUT_OF_MEMORY", category: "failure", terminal: true });
    const parsed = await runCli("log-parse", [], { env, input: `${JSON.stringify(polled[0])}\n` });
    const report = records(parsed.stdout)[0]?.report as { failures: { class: string }[]; series: { loss: { step: number }[] } };
    expect(report.failures[0]?.class).toBe("HOST_OOM");
    expect(JSON.stringify(report.failures[0])).toContain('"increase_mem"');
    // It trained until the allocation at step 10: its printed losses are there, the "allocated" line is not.
    expect(report.series.loss.length).toBe(10);
  }, 600_000);

  it("kill-node: the job on it ends NODE_FAIL, slurm-poll and log-parse say so", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-nodes-"));
    const runId = `nf${Date.now().toString(36)}0000000000`.slice(0, 12);
    const name = taggedJobName("sp-nodes-nodefail", runId);
    const out = join(dir, "nf-%j.out");
    const sb = await execa("sbatch", ["--parsable", "--no-requeue", "-w", "node2", "-J", name, "-o", out, "--wrap", "echo started; sleep 600"], { env, cwd: dir });
    const id = String(sb.stdout).trim();
    const rec = { id: runId, name: "nodefail", job: { id, name, submitted_at: new Date().toISOString() }, logs: { stdout: out } };
    for (let i = 0; i < 60; i++) {
      const st = await execa("squeue", ["-h", "-j", id, "-o", "%T"], { env });
      if (String(st.stdout).trim() === "RUNNING") break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const kill = await slurmDev(["kill-node", "node2"]);
    expect(kill.exitCode, kill.stderr).toBe(0);
    try {
      const poll = await runCli("slurm-poll", ["--state", join(dir, "state"), "--interval", "2s", "--timeout", "240s"], { env, input: `${JSON.stringify(rec)}\n` });
      const polled = records(poll.stdout).filter((r) => r.kind !== "event");
      expect(polled).toHaveLength(1);
      expect(polled[0]?.state).toMatchObject({ state: "NODE_FAIL", category: "failure", terminal: true });
      const parsed = await runCli("log-parse", [], { env, input: `${JSON.stringify(polled[0])}\n` });
      const report = records(parsed.stdout)[0]?.report as { failures: { class: string }[] };
      expect(report.failures[0]?.class).toBe("NODE_FAIL");
    } finally {
      await slurmDev(["up", "--nodes", "3"]); // node2 back for the next test
    }
  }, 360_000);
});
