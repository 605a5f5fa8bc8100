import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LogParseArgs } from "../src/index.ts";
import { runLogParse } from "./run-lib.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "log-parse-cli-"));
  await writeFile(join(dir, "job-100.out"), "iter 0: loss 4.0, time 1.00ms\niter 10: loss 3.0, time 1.00ms\niter 20: loss 2.0, time 1.00ms\nUsing device: cuda:0\n");
  await writeFile(join(dir, "job-100.err"), "Traceback (most recent call last):\n  File \"t.py\", line 2, in <module>\nValueError: boom\n");
  await mkdir(join(dir, "run", "lightning_logs", "version_0"), { recursive: true });
  await writeFile(join(dir, "run", "lightning_logs", "version_0", "metrics.csv"), "epoch,step,train_loss,val_loss\n0,9,2.5,\n0,19,2.0,\n0,19,,2.2\n0,29,1.5,\n0,39,1.0,\n");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const run = (args: LogParseArgs, input = "") => runLogParse(dir, args, input);

describe("log-parse command", () => {
  it("adds report to run records, passes unknown fields and other kinds through in order", async () => {
    const runRec = { id: "abc123def456", name: "r1", custom: { keep: [1, 2] }, logs: { stdout: "job-%j.out", stderr: "job-%j.err" }, job: { id: "100", name: "r1.spabc123def4" }, state: { state: "FAILED", category: "failure", terminal: true, exit_code: "1:0", elapsed_s: 120 }, resources: { gpus_per_node: 1 } };
    const event = { kind: "event", job_id: "100", from: "RUNNING", to: "FAILED", at: "2024-01-01T00:00:00Z", extra: "x" };
    const other = { kind: "archive-entry", path: "a", size: 1, sha256: "0".repeat(64) };
    const { code, records } = await run({}, [runRec, event, other].map((r) => JSON.stringify(r)).join("\n"));
    expect(code).toBe(0);
    expect(records).toHaveLength(3);
    expect(records[1]).toEqual(event);
    expect(records[2]).toEqual(other);
    const r = records[0];
    expect(r.custom).toEqual({ keep: [1, 2] });
    expect(r.report.files.map((f: { role: string; exists: boolean; lines: number }) => [f.role, f.exists, f.lines])).toEqual([
      ["stdout", true, 4],
      ["stderr", true, 3],
    ]);
    expect(r.report.loss).toMatchObject({ first: 4, last: 2, min: 2, trend: "DECREASING" });
    expect(r.report.failures[0]).toMatchObject({ class: "PYTHON_EXCEPTION", exception: { type: "ValueError", message: "boom", frame: { file: "t.py", line: 2 } } });
    expect(r.report.flags).toEqual([]); // the device line satisfies the GPU check; 20 steps in 120 s is not fast
    expect(r.report.ok).toBe(false);
  });

  it("a job that has not started: logs reported missing, not an error", async () => {
    const rec = { id: "abc123def456", name: "r2", logs: { stdout: "job-%j.out" }, job: { id: "999" }, state: { state: "PENDING", category: "pending", terminal: false } };
    const { code, records } = await run({}, JSON.stringify(rec));
    expect(code).toBe(0);
    expect(records[0].report.files).toEqual([{ path: join(dir, "job-999.out"), role: "stdout", exists: false }]);
    expect(records[0].report.loss.trend).toBe("NO_DATA");
    expect(records[0].report.ok).toBe(true);
  });

  it("reads metrics.csv under the run's dir (sparse rows)", async () => {
    const rec = { id: "abc123def456", name: "r3", dir: join(dir, "run"), state: { state: "COMPLETED", category: "success", terminal: true, elapsed_s: 1, exit_code: "0:0" } };
    const { records } = await run({}, JSON.stringify(rec));
    const rep = records[0].report;
    expect(rep.loss).toMatchObject({ metric: "train_loss", first: 2.5, last: 1, trend: "DECREASING" });
    expect(rep.series.val_loss).toEqual([{ step: 19, value: 2.2 }]);
    expect(rep.files[0]).toMatchObject({ role: "metrics", exists: true });
    expect(rep.flags).toEqual([]); // 39 steps in 1 s, but no GPU was asked for: fast is fine on a CPU
    // The same run with a GPU request: too fast to have trained a real model on it.
    const gpu = await run({}, JSON.stringify({ ...rec, resources: { gpus_per_node: 1 } }));
    expect(gpu.records[0].report.flags.map((f: { flag: string }) => f.flag)).toEqual(["CPU_ONLY_SUSPECTED", "NO_GPU_DEVICE_LINE"]);
  });

  it("a CPU banner is only suspicious when the job asked for GPUs", async () => {
    await writeFile(join(dir, "cpu.out"), "GPU available: False (cuda), used: False\nstep=1 loss=1\nstep=2 loss=0.5\n");
    const rec = { id: "abc123def456", name: "cpu", logs: { stdout: "cpu.out" }, state: { state: "COMPLETED", category: "success", terminal: true, elapsed_s: 60 } };
    const flagsOf = async (resources?: Record<string, unknown>) => {
      const { records } = await run({}, JSON.stringify({ ...rec, ...(resources ? { resources } : {}) }));
      return records[0].report.flags.map((f: { flag: string }) => f.flag);
    };
    // No GPU asked for (or explicitly zero, or a non-GPU gres): the banner is the truth, not a problem.
    expect(await flagsOf()).toEqual([]);
    expect(await flagsOf({ cpus_per_task: 4, mem: "8G" })).toEqual([]);
    expect(await flagsOf({ gpus_per_node: 0, gres: "tmpdisk:100", extra: ["--exclusive"] })).toEqual([]);
    // Any form of GPU request makes it suspicious.
    for (const resources of [{ gpus_per_node: 2 }, { gpus: "a100:1" }, { gpus_per_task: 1 }, { gres: "gpu:a100:2" }, { gres: "tmpdisk:10,gpu" }, { extra: ["--gres=gpu:1"] }, { extra: ["--gpus-per-node=4"] }, { extra: ["-G 2"] }]) {
      expect(await flagsOf(resources), JSON.stringify(resources)).toEqual(["CPU_ONLY_SUSPECTED", "NO_GPU_DEVICE_LINE"]);
    }
    expect(await flagsOf({ gres: "gpu:0" })).toEqual([]);
  });

  it("GPU requested, no device line: NO_GPU_DEVICE_LINE", async () => {
    await writeFile(join(dir, "nogpu.out"), "step=1 loss=1\nstep=2 loss=0.5\n");
    const rec = { id: "abc123def456", name: "r4", logs: { stdout: "nogpu.out" }, resources: { gpus_per_node: 4 }, state: { state: "COMPLETED", category: "success", terminal: true } };
    const { records } = await run({}, JSON.stringify(rec));
    expect(records[0].report.flags.map((f: { flag: string }) => f.flag)).toEqual(["NO_GPU_DEVICE_LINE"]);
  });

  it("bad input lines and invalid records are reported with source:line and the stream goes on (exit 1)", async () => {
    const good = { id: "abc123def456", name: "ok", logs: { stdout: "job-%j.out" }, job: { id: "100" } };
    const { code, records, stderr } = await run({}, `not json\n${JSON.stringify({ name: "no id" })}\n${JSON.stringify(good)}\n`);
    expect(code).toBe(1);
    expect(stderr).toMatch(/stdin:1: not JSON/);
    expect(stderr).toMatch(/stdin:2: field "id"/);
    expect(records).toHaveLength(2);
    expect(records[0].error).toMatchObject({ stage: "log-parse", code: "invalid_record" });
    expect(records[1].report.loss.last).toBe(2);
  });

  it("plain files: one kind:log record each; a missing file is named, exit 1, the others still parsed", async () => {
    const { code, records, stderr } = await run({ files: ["job-100.out", "missing.log", "job-100.err"] });
    expect(code).toBe(1);
    expect(stderr).toMatch(/missing\.log: no such file/);
    expect(records.map((r) => [r.kind, r.path, Boolean(r.error)])).toEqual([
      ["log", "job-100.out", false],
      ["log", "missing.log", true],
      ["log", "job-100.err", false],
    ]);
    expect(records[0].report.files[0]).toMatchObject({ path: "job-100.out", exists: true });
    expect(records[2].report.failures[0].class).toBe("PYTHON_EXCEPTION");
  });

  it("usage errors for bad options", async () => {
    await expect(run({ metric: ["x"] })).rejects.toThrow(/name=<regex>/);
    await expect(run({ maxPoints: 1 })).rejects.toThrow(/--max-points/);
  });
});
