import { describe, expect, it } from "vitest";
import { parseJobId, parseSbatchParsable, parseState, runSlurm } from "@slurmpipe/core";
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
