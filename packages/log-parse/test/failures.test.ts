import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type RunRecord, parseDuration, parseMemory } from "@slurmpipe/core";
import { describe, expect, it } from "vitest";
import { parseLogFile, reportForRecord } from "../src/index.ts";

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/failures/${name}`, import.meta.url));

const cases: [string, string, number[], string][] = [
  // file, first class, evidence lines of that class, suggested action
  ["cuda_oom.err", "CUDA_OOM", [8], "reduce_batch"],
  ["host_oom.err", "HOST_OOM", [2, 3], "increase_mem"],
  ["time_limit.err", "TIME_LIMIT", [2], "requeue"],
  ["preempted.err", "PREEMPTED", [1], "requeue"],
  ["node_fail.err", "NODE_FAIL", [1], "retry"],
  ["nccl.err", "NCCL", [2, 4], "retry"],
  ["segfault.err", "SEGFAULT", [2], "retry"],
  ["bus_error.err", "SEGFAULT", [1], "retry"],
  ["illegal.err", "ILLEGAL_MEMORY_ACCESS", [4], "investigate"],
  ["ecc.err", "ECC_XID", [1, 2], "retry"],
  ["python_exception.err", "PYTHON_EXCEPTION", [10], "do_not_retry"],
  ["import_error.err", "IMPORT_ERROR", [4], "fix_environment"],
  ["command_not_found.err", "IMPORT_ERROR", [1, 2], "fix_environment"],
  ["disk_full.err", "DISK_FULL", [4], "free_disk"],
  ["nan_loss.out", "NAN_LOSS", [3, 4], "lower_lr"],
  ["cancelled.err", "CANCELLED", [1], "investigate"],
];

describe("failure classes from log text", () => {
  it.each(cases)("%s -> %s with evidence lines", async (file, cls, lines, action) => {
    const r = await parseLogFile(fixture(file));
    const f = r.failures?.[0];
    expect(f?.class).toBe(cls);
    expect(f?.evidence?.map((e) => e.line)).toEqual(lines);
    expect(f?.evidence?.every((e) => e.file.endsWith(file) && e.text.length > 0)).toBe(true);
    expect(f?.suggested?.action).toBe(action);
    expect(r.ok).toBe(false);
  });

  it("a CUDA OOM traceback is CUDA_OOM (with type, message, innermost frame), not a Python exception", async () => {
    const r = await parseLogFile(fixture("cuda_oom.err"));
    expect(r.failures?.map((f) => f.class)).toEqual(["CUDA_OOM"]);
    expect(r.failures?.[0]).toMatchObject({
      message: expect.stringContaining("3725.29 GiB"),
      exception: { type: "torch.OutOfMemoryError", frame: { file: "/opt/venv/lib/python3.11/site-packages/torch/nn/modules/module.py", line: 1511, function: "_wrapped_call_impl" } },
    });
  });

  it("a Python exception reports type, message and the innermost frame", async () => {
    const r = await parseLogFile(fixture("python_exception.err"));
    expect(r.failures?.[0]).toMatchObject({
      class: "PYTHON_EXCEPTION",
      exception: { type: "KeyError", message: "'lr'", frame: { file: "/home/u/config.py", line: 3, function: "load" } },
      suggested: { action: "do_not_retry", retry: false },
    });
    expect(r.benign_warnings).toBe(1); // the FutureWarning (its `warnings.warn(` line is part of it)
  });

  it("faulthandler segfault keeps the innermost frame of the crashing rank", async () => {
    const r = await parseLogFile(fixture("segfault.err"));
    expect(r.failures?.[0]?.exception).toMatchObject({ frame: { line: 1250, function: "_next_data" }, rank: "3" });
  });

  it("ECC comes before the NCCL error it caused", async () => {
    const r = await parseLogFile(fixture("ecc.err"));
    expect(r.failures?.map((f) => f.class)).toEqual(["ECC_XID", "NCCL"]);
  });

  it("benign warnings are counted and never fail a run", async () => {
    const r = await parseLogFile(fixture("benign.err"));
    expect(r.failures).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.benign_warnings).toBe(6);
  });
});

const base = (over: Partial<RunRecord>): Partial<RunRecord> => ({ id: "r1", name: "r1", ...over });

describe("a requeued job's earlier segments", () => {
  // The stderr of a real preemption (scripts/slurm-dev up --preempt, Slurm 22.05.8): the first
  // segment's banners, the script's requeue line, then the second segment, which completed.
  const segments = [
    "slurmstepd-localhost: error: *** JOB 8317002 ON localhost CANCELLED AT 2026-12-03T16:49:57 ***",
    "slurmstepd-localhost: error: *** STEP 8317002.0 ON localhost CANCELLED AT 2026-12-03T16:49:57 ***",
    "slurmpipe: job 8317002 was preempted at 2026-12-03T16:49:57; requeueing it to resume from its checkpoint",
    "",
  ].join("\n");
  const withLog = async (state: Record<string, unknown>) => {
    const dir = mkdtempSync(join(tmpdir(), "lp-requeued-"));
    writeFileSync(join(dir, "8317002.err"), segments);
    return reportForRecord(base({ job: { id: "8317002" }, logs: { stdout: join(dir, "none.out"), stderr: join(dir, "%j.err") }, state: { category: "success", terminal: true, ...state } } as Partial<RunRecord>));
  };

  it("COMPLETED after a requeue (Restarts 1): the first segment's CANCELLED banner is history, not a failure", async () => {
    expect((await withLog({ state: "COMPLETED", exit_code: "0:0", restarts: 1 })).failures).toEqual([]);
  });

  it("COMPLETED without a restart: a cancelled step is still reported", async () => {
    expect((await withLog({ state: "COMPLETED", exit_code: "0:0" })).failures?.[0]?.class).toBe("CANCELLED");
  });
});

describe("failure classes from the Slurm state, and suggested changes", () => {
  it("OUT_OF_MEMORY / exit 0:125 -> HOST_OOM, mem = MaxRSS x 1.2", async () => {
    const r = await reportForRecord(
      base({ state: { state: "OUT_OF_MEMORY", category: "failure", terminal: true, exit_code: "0:125", max_rss_bytes: 10 * 1024 ** 3, req_mem_bytes: 8 * 1024 ** 3 } }),
    );
    expect(r.failures?.[0]).toMatchObject({ class: "HOST_OOM", suggested: { action: "increase_mem", retry: true, changes: { resources: { mem: "12G" } } } });
    const r2 = await reportForRecord(base({ state: { state: "FAILED", category: "failure", terminal: true, exit_code: "0:125", req_mem_bytes: 4 * 1024 ** 3 } }));
    expect(r2.failures?.[0]).toMatchObject({ class: "HOST_OOM", suggested: { changes: { resources: { mem: "6G" } } } });
  });

  it("HOST_OOM always suggests strictly more than was requested, even when MaxRSS stayed under it", async () => {
    const suggested = async (state: Record<string, unknown>, resources?: Record<string, unknown>) => {
      const r = await reportForRecord(base({ state: { state: "OUT_OF_MEMORY", category: "failure", terminal: true, ...state }, ...(resources ? { resources } : {}) }));
      return (r.failures![0]!.suggested!.changes as { resources: { mem: string } }).resources.mem;
    };
    // A MemoryError (or a peak the 5 s sampler missed): MaxRSS 2G of 4G requested. Asking for 4G again fails the same way.
    expect(await suggested({ max_rss_bytes: 2 * 1024 ** 3, req_mem_bytes: 4 * 1024 ** 3 })).toBe("6G");
    expect(await suggested({ max_rss_bytes: 3.9 * 1024 ** 3 }, { mem: "4G" })).toBe("6G");
    // MaxRSS x 1.2 wins when it is the larger: 20G x 1.2 = 24G > 16G x 1.5.
    expect(await suggested({ max_rss_bytes: 20 * 1024 ** 3, req_mem_bytes: 16 * 1024 ** 3 })).toBe("24G");
    // Request unknown: MaxRSS x 1.2, rounded up by formatMemory (300M x 1.2 = 360M).
    expect(await suggested({ max_rss_bytes: 300 * 1024 ** 2 })).toBe("360M");
    // Never a value that is not above the request, whatever the numbers.
    for (const req of [1, 100, 257, 1000, 4096, 65_537]) {
      for (const rss of [0, req / 3, req - 1, req, req * 1.1]) {
        const mem = await suggested({ ...(rss ? { max_rss_bytes: rss * 1024 ** 2 } : {}), req_mem_bytes: req * 1024 ** 2 });
        expect(parseMemory(mem)!, `req ${req}M rss ${rss}M -> ${mem}`).toBeGreaterThan(req * 1024 ** 2);
      }
    }
  });

  it("TIME_LIMIT suggests limit x 1.5 of the whole minutes Slurm granted, so the retry always runs longer", async () => {
    const suggested = async (state: Record<string, unknown>, resources?: Record<string, unknown>) => {
      const r = await reportForRecord(base({ state: { state: "TIMEOUT", category: "failure", terminal: true, ...state }, ...(resources ? { resources } : {}) }));
      return (r.failures![0]!.suggested!.changes as { resources: { time: string } }).resources.time;
    };
    // A 30 s limit runs as 1 minute; 30 s x 1.5 = "00:00:45" would run as 1 minute again and time out the same way.
    expect(await suggested({ time_limit_s: 30 })).toBe("00:01:30");
    expect(await suggested({}, { time: "00:00:45" })).toBe("00:01:30");
    expect(await suggested({ time_limit_s: 60 })).toBe("00:01:30");
    expect(await suggested({ time_limit_s: 300 })).toBe("00:07:30");
    expect(await suggested({}, { time: "1-00:00:00" })).toBe("1-12:00:00");
    for (const limit of [1, 59, 60, 61, 90, 119, 600, 3599]) {
      const time = await suggested({ time_limit_s: limit });
      // What Slurm will grant: whole minutes, rounded up.
      expect(Math.ceil(parseDuration(time)! / 60), `${limit} s -> ${time}`).toBeGreaterThan(Math.ceil(limit / 60));
    }
  });

  it("host OOM in the log plus the state merges into one failure with evidence", async () => {
    const r = await reportForRecord(
      base({ logs: { stderr: fixture("host_oom.err") }, state: { state: "OUT_OF_MEMORY", category: "failure", terminal: true, exit_code: "0:125" }, resources: { mem: "2G" } }),
    );
    expect(r.failures).toHaveLength(1);
    expect(r.failures?.[0]).toMatchObject({ class: "HOST_OOM", slurm: "Slurm: OUT_OF_MEMORY (exit 0:125)", suggested: { changes: { resources: { mem: "3G" } } } });
    expect(r.failures?.[0]?.evidence?.map((e) => e.line)).toEqual([2, 3]);
  });

  it("TIMEOUT -> TIME_LIMIT, time = limit x 1.5", async () => {
    const r = await reportForRecord(base({ state: { state: "TIMEOUT", category: "failure", terminal: true, time_limit_s: 3600 } }));
    expect(r.failures?.[0]).toMatchObject({ class: "TIME_LIMIT", suggested: { action: "increase_time", retry: true, changes: { resources: { time: "01:30:00" } } } });
  });

  it("CUDA_OOM halves batch_size; NAN halves lr and clips; NCCL excludes the node", async () => {
    const oom = await reportForRecord(base({ logs: { stderr: fixture("cuda_oom.err") }, params: { batch_size: 64, lr: 0.001 } }));
    expect(oom.failures?.[0]?.suggested?.changes).toEqual({ params: { batch_size: 32 } });
    const nan = await reportForRecord(base({ logs: { stdout: fixture("nan_loss.out") }, params: { batch_size: 64, lr: 0.001 } }));
    expect(nan.failures?.[0]?.suggested).toMatchObject({ action: "lower_lr", changes: { params: { lr: 0.0005, grad_clip_norm: 1 } } });
    const nccl = await reportForRecord(
      base({ logs: { stderr: fixture("nccl.err") }, resources: { exclude: "gpu-07" }, state: { state: "FAILED", category: "failure", terminal: true, exit_code: "1:0", node_list: "gpu-12" } }),
    );
    expect(nccl.failures?.[0]?.suggested).toMatchObject({ action: "exclude_node", retry: true, changes: { resources: { exclude: "gpu-07,gpu-12" } } });
  });

  it("PREEMPTED, NODE_FAIL, CANCELLED and a FAILED job without a signature", async () => {
    const cls = async (state: string, exit = "0:0") =>
      (await reportForRecord(base({ state: { state, category: "failure", terminal: true, exit_code: exit } }))).failures?.map((f) => f.class);
    expect(await cls("PREEMPTED")).toEqual(["PREEMPTED"]);
    expect(await cls("NODE_FAIL")).toEqual(["NODE_FAIL"]);
    expect(await cls("CANCELLED by 0")).toEqual(["CANCELLED"]);
    expect(await cls("FAILED", "0:11")).toEqual(["SEGFAULT"]);
    expect(await cls("FAILED", "3:0")).toEqual(["UNKNOWN"]);
    expect(await cls("COMPLETED")).toEqual([]);
  });

  it("a cancel banner after a real cause is not reported", async () => {
    const r = await reportForRecord(base({ logs: { stderr: fixture("cuda_oom.err"), stdout: fixture("cancelled.err") }, state: { state: "CANCELLED by 0", category: "failure", terminal: true } }));
    expect(r.failures?.map((f) => f.class)).toEqual(["CUDA_OOM"]);
  });
});
