import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseJobId, parseSbatchParsable, parseState, runSlurm } from "@slurmpipe/core";
import { describe, expect, it } from "vitest";
import { records, runCli } from "../support/cli.ts";
import { cluster, describeSlurm, requireCluster, waitForJobs } from "../support/slurm.ts";

describe("local Slurm", () => {
  it.runIf(process.env.CI === "true")("is up under CI (a missing cluster fails CI)", () => {
    expect(cluster.reason).toBe("");
    expect(cluster.available).toBe(true);
  });
});

describeSlurm("core against the real local Slurm", () => {
  it("submits through the runner and reads every state back with the core parsers", async () => {
    requireCluster();
    const ok = parseSbatchParsable((await runSlurm("sbatch", ["--parsable", "-J", "sp-core-ok", "-o", "/dev/null", "--wrap", "true"])).stdout);
    const bad = parseSbatchParsable((await runSlurm("sbatch", ["--parsable", "-J", "sp-core-bad", "-o", "/dev/null", "--wrap", "exit 3"])).stdout);
    const arr = parseSbatchParsable((await runSlurm("sbatch", ["--parsable", "-J", "sp-core-arr", "-o", "/dev/null", "--array=0-2", "--wrap", "true"])).stdout);
    const states = await waitForJobs([ok.jobId, bad.jobId]);
    expect(parseState(states.get(ok.jobId)!).category).toBe("success");
    expect(parseState(states.get(bad.jobId)!).category).toBe("failure");
    const sq = await runSlurm("squeue", ["-h", "-t", "all", "-j", `${ok.jobId},${arr.jobId}`, "-o", "%i|%T"]);
    for (const line of sq.stdout.trim().split("\n").filter(Boolean)) {
      const [id, state] = line.split("|");
      expect(parseJobId(id!).jobId).toBeGreaterThan(0);
      expect(parseState(state!).known).toBe(true);
    }
  });
  it("classifies a real rejection as permanent, with no retry", async () => {
    requireCluster();
    const err = await runSlurm("sbatch", ["-p", "nosuchpartition", "--wrap", "true"]).catch((e) => e);
    expect(err.kind).toBe("permanent");
    expect(err.attempts).toBe(1);
  });
});

// scripts/slurm-dev gives node `localhost` pretend GPUs (SLURM_DEV_GPUS, default 4: device nodes
// standing in for GPUs) when it may create device nodes. Then a GPU request is scheduled, accounted
// and exported like on a GPU cluster, and `--profile generic` scripts run here unchanged.
const gpus = cluster.available ? Number((await runSlurm("sinfo", ["-h", "-n", "localhost", "-o", "%G"])).stdout.match(/gpu(?::\w+)?:(\d+)/)?.[1] ?? 0) : 0;
if (cluster.available && gpus === 0) process.stderr.write("skipping the pretend-GPU tests: node localhost has no gres/gpu (scripts/slurm-dev could not create device nodes?)\n");

describeSlurm("pretend GPUs of the local Slurm", () => {
  it.skipIf(gpus < 2)("a job asking for 2 GPUs gets 2 in CUDA_VISIBLE_DEVICES and in sacct's AllocTRES", async () => {
    requireCluster();
    const dir = mkdtempSync(join(tmpdir(), "sp-gpu-"));
    const out = join(dir, "out");
    const { jobId } = parseSbatchParsable((await runSlurm("sbatch", ["--parsable", "-J", "sp-gpu", "-o", out, "--gpus-per-node=2", "--wrap", "echo CVD=$CUDA_VISIBLE_DEVICES"])).stdout);
    expect(parseState((await waitForJobs([jobId])).get(jobId)!).state).toBe("COMPLETED");
    expect(readFileSync(out, "utf8")).toMatch(/^CVD=\d+,\d+$/m);
    const tres = await runSlurm("sacct", ["-X", "-n", "-P", "-j", jobId, "-o", "AllocTRES"]);
    expect(tres.stdout).toContain("gres/gpu=2");
  });

  it.skipIf(gpus < 1)("sweep-gen | slurm-render --profile generic | slurm-submit | slurm-poll runs a GPU job here", async () => {
    requireCluster();
    const dir = mkdtempSync(join(tmpdir(), "sp-gpu-generic-"));
    const sweep = await runCli("sweep-gen", ["-p", "seed=1", "--name", "spgpu-{seed}", "--dir", join(dir, "runs/{name}"), "--", "bash", "-c", "echo CVD=$CUDA_VISIBLE_DEVICES"], { cwd: dir });
    const render = await runCli("slurm-render", ["--profile", "generic", "--gpus-per-node", "1", "--time", "00:05:00", "--mem", "100M", "--cpus-per-task", "1"], { input: String(sweep.stdout), cwd: dir });
    expect(render.stderr).toBe("");
    const script = readFileSync((records(render.stdout)[0]!.script as { path: string }).path, "utf8");
    expect(script).toContain("#SBATCH --gpus-per-node=1");
    const submit = await runCli("slurm-submit", ["--state", join(dir, "state")], { input: String(render.stdout), cwd: dir });
    expect(submit.exitCode).toBe(0);
    const poll = await runCli("slurm-poll", ["--state", join(dir, "state"), "--no-ledger", "--interval", "1s", "--timeout", "120s"], { input: String(submit.stdout), cwd: dir });
    const run = records(poll.stdout).find((r) => r.kind !== "event")!;
    expect((run.state as { state: string }).state).toBe("COMPLETED");
    const logs = run.logs as { stdout: string };
    const jobId = String((run.job as { id: string }).id);
    expect(readFileSync(logs.stdout.replace("%j", jobId), "utf8")).toMatch(/^CVD=\d+$/m);
  });
});
