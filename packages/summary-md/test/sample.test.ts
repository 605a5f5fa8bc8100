import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { extrapolate, fullStepsOf } from "../src/sample.ts";
import { run, tempDir, writeNdjson } from "./helpers.ts";

const G = 1024 ** 3;

function sampleRecord(overrides: Record<string, unknown> = {}) {
  return {
    id: "abc123",
    name: "sample-deconcnn",
    params: { lr: 0.1, max_steps: 100 },
    command: ["python", "train_cnn.py", "trainer.max_steps=100", "optim.lr=0.1"],
    resources: { partition: "small-g", nodes: 1, gpus_per_node: 2, mem: "32G", time: "00:15:00" },
    script: { path: "runs/sample-deconcnn/job.sbatch" },
    logs: { stdout: "logs/%x.%j.out", stderr: "logs/%x.%j.err" },
    job: { id: "4242", cluster: "lumi", name: "sample-deconcnn.spabc123" },
    state: { state: "COMPLETED", category: "success", terminal: true, exit_code: "0:0", elapsed_s: 120, time_limit_s: 900, max_rss_bytes: 9 * G, req_mem_bytes: 32 * G, node_list: "nid005001" },
    report: {
      steps_seen: 100,
      loss: { first: 2.31, last: 1.12, min: 1.1, trend: "DECREASING" },
      series: { loss: Array.from({ length: 10 }, (_, i) => ({ step: (i + 1) * 10, value: 2.31 - i * 0.13 })) },
      failures: [],
      benign_warnings: 3,
    },
    ...overrides,
  };
}

async function sample(record: unknown, extra: Record<string, unknown> = {}, expected?: unknown[]) {
  const dir = tempDir();
  const input = writeNdjson(join(dir, "in.ndjson"), [record]);
  if (expected) writeNdjson(join(dir, "full.ndjson"), expected);
  const result = await run({ inputs: [input], sample: true, output: "SAMPLE.md", ...(expected ? { expected: "full.ndjson" } : {}), ...extra }, { cwd: dir });
  return { ...result, dir, md: readFileSync(join(dir, "SAMPLE.md"), "utf8") };
}

describe("--sample report", () => {
  it("READY: completed, exit 0:0, finite decreasing loss, no errors; the seed's sections in order", async () => {
    const full = { id: "full1", name: "deconcnn", params: { lr: 0.1, max_steps: 10000 }, command: ["python", "train_cnn.py", "optim.lr=0.1"], resources: { nodes: 1, gpus_per_node: 2, time: "02:00:00" } };
    const { md, code } = await sample(sampleRecord(), {}, [full]);
    expect(code).toBe(0);
    const headings = md.split("\n").filter((l) => l.startsWith("#"));
    expect(headings).toEqual(["# Sample Run: sample-deconcnn", "## Training", "## Resources", "## Files", "## Verdict", "## Full Run Recommendation"]);
    expect(md).toContain("- Cluster: lumi");
    expect(md).toContain("- Job ID: 4242");
    expect(md).toContain("- Status: SUCCESS (COMPLETED, exit 0:0)");
    expect(md).toContain("- Wall time: 00:02:00 of 00:15:00 requested");
    expect(md).toContain("- GPUs: 2 x GPU (1 node x 2)");
    expect(md).toContain("- Steps completed: 100");
    expect(md).toContain("- Initial loss: 2.31");
    expect(md).toContain("- Final loss: 1.12");
    expect(md).toContain("- Loss trend: DECREASING ([loss curve](plots/sample-deconcnn.svg))");
    expect(md).toContain("- Stdout: `logs/sample-deconcnn.spabc123.4242.out`");
    expect(md).toContain("**READY** for a full run.");
    expect(md).toContain("warning: 3 benign warnings");
    // 120 s / 100 steps = 1.2 s/step; x 10000 steps x 1.2 = 14400 s = 04:00:00.
    expect(md).toContain("- Estimated wall time: 04:00:00 (1.2 s/step");
    expect(md).toContain("- Estimated command: `python train_cnn.py optim.lr=0.1`");
    expect(md).toContain("raise --time from 02:00:00 to 04:00:00");
  });

  it("NOT READY with every reason: state, exit code, NaN, stderr errors, CPU-only flag", async () => {
    const record = sampleRecord({
      state: { state: "FAILED", category: "failure", terminal: true, exit_code: "1:0", elapsed_s: 30, time_limit_s: 900 },
      report: {
        steps_seen: 40,
        loss: { first: 2.3, last: null, min: 2.1, trend: "NAN", first_nonfinite: { step: 40, raw: "nan", file: "logs/4242.out", line: 57 } },
        failures: [
          { class: "NAN_LOSS", message: "loss became nan at step 40" },
          { class: "NCCL", message: "NCCL watchdog timeout", evidence: [{ file: "logs/4242.err", line: 12, text: "Watchdog caught collective operation timeout" }] },
        ],
        flags: [{ flag: "CPU_ONLY_SUSPECTED", message: "no GPU device line although 2 GPUs were requested" }],
      },
    });
    const { md } = await sample(record, { fullSteps: 1000 });
    expect(md).toContain("**NOT READY** for a full run:");
    expect(md).toContain("- the job ended FAILED, not COMPLETED");
    expect(md).toContain("- exit code 1:0, expected 0:0");
    expect(md).toContain("- the loss became nan at step 40 (logs/4242.out:57)");
    expect(md).toContain("- NCCL: NCCL watchdog timeout (logs/4242.err:12)");
    expect(md).toContain("- CPU\\_ONLY\\_SUSPECTED: no GPU device line");
    expect(md).toContain("- Status: FAILED (FAILED, exit 1:0)");
    expect(md).toContain("within its first minute");
    // Still extrapolated: 30 s / 40 steps x 1000 x 1.2 = 900 s.
    expect(md).toContain("- Estimated wall time: 00:15:00");
  });

  it("NOT READY when the loss does not decrease or there is no report", async () => {
    const diverging = sampleRecord({ report: { steps_seen: 100, loss: { first: 2.0, last: 5.0, min: 2.0, trend: "DIVERGING" } } });
    expect((await sample(diverging)).md).toContain("- the loss is diverging");
    const noReport = sampleRecord({ report: undefined });
    const { md } = await sample(noReport);
    expect(md).toContain("- no log report: run log-parse");
    expect(md).toContain("cannot extrapolate without the full run's step count");
    const flat = sampleRecord({ report: { steps_seen: 100, loss: { first: 2.0, last: 1.99, min: 1.98, trend: "FLAT" } } });
    const flatMd = (await sample(flat)).md;
    expect(flatMd).toContain("**READY**");
    expect(flatMd).toContain("warning: the loss is flat");
  });

  it("uses the first run and warns when the input has several", async () => {
    const dir = tempDir();
    const input = writeNdjson(join(dir, "in.ndjson"), [sampleRecord(), { ...sampleRecord(), id: "other", name: "other" }]);
    const { stdout, stderr } = await run({ inputs: [input], sample: true, plots: false }, { cwd: dir });
    expect(stdout).toContain("# Sample Run: sample-deconcnn");
    expect(stderr).toContain("2 runs in the input; reporting on the first");
  });
});

describe("wall-time extrapolation", () => {
  it("seconds per step x full steps x margin, rounded up to whole minutes", () => {
    expect(extrapolate(120, 100, 10000, 1.2)).toMatchObject({ secondsPerStep: 1.2, seconds: 14400, slurm: "04:00:00" });
    expect(extrapolate(61, 100, 100000, 1.25)?.slurm).toBe("21:11:00"); // 76250 s -> 1271 min
    expect(extrapolate(3600, 10, 1000, 1.5)?.slurm).toBe("6-06:00:00");
    expect(extrapolate(undefined, 100, 1000, 1.2)).toBeUndefined();
    expect(extrapolate(100, 0, 1000, 1.2)).toBeUndefined();
  });

  it("reads the full run's step count from common param names", () => {
    expect(fullStepsOf({ id: "a", name: "a", params: { max_steps: 5000 } })).toBe(5000);
    expect(fullStepsOf({ id: "a", name: "a", params: { trainer: { max_steps: 700 } } })).toBe(700);
    expect(fullStepsOf({ id: "a", name: "a", params: { lr: 1 } })).toBeUndefined();
  });
});
