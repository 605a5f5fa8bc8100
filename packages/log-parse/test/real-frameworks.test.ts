import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseLogFile, reportForRecord } from "../src/index.ts";

// Logs the real trainers of examples/real wrote (how each was made: fixtures/real/README.md).
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/real/${name}`, import.meta.url));

describe("real framework output", () => {
  it("PyTorch's CPU allocator failing (DefaultCPUAllocator: can't allocate memory) is HOST_OOM, not a code error", async () => {
    const r = await parseLogFile(fixture("torch_cpu_alloc.err"));
    const f = r.failures?.[0];
    expect(f?.class).toBe("HOST_OOM");
    expect(f?.evidence?.[0]?.line).toBe(9);
    expect(f?.evidence?.[0]?.text).toContain("DefaultCPUAllocator: can't allocate memory");
    expect(f?.suggested?.action).toBe("increase_mem");
    expect(r.failures?.some((x) => x.class === "PYTHON_EXCEPTION")).toBe(false);
  });

  // HF Trainer prints its log dicts without a step; trainer_state.json and the TensorBoard file carry it.
  const hfRun = fixture("hf_run");
  const hfState = JSON.parse(readFileSync(join(hfRun, "checkpoints/trainer_state.json"), "utf8")) as { log_history: { step: number; loss?: number }[] };
  const hfLoss = hfState.log_history.filter((h) => h.loss !== undefined);
  const hfRecord = (dir: string) => ({ id: "r", name: "r", dir, logs: { stdout: join(dir, "logs/6.out"), stderr: join(dir, "logs/6.err") } });

  it("HF Trainer: the loss at the steps it was logged (5..60), from the TensorBoard file, not the console dicts' positions (0..11)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lp-real-hf-"));
    try {
      cpSync(join(hfRun, "logs"), join(dir, "logs"), { recursive: true }); // no trainer_state.json
      const r = await reportForRecord(hfRecord(dir));
      expect(r.files?.map((f) => f.role)).toContain("tfevents");
      expect(r.series?.loss?.map((p) => p.step)).toEqual(hfLoss.map((h) => h.step));
      expect(r.steps_seen).toBe(60);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("HF Trainer with output_dir=checkpoints: trainer_state.json there is read, its losses at full precision", async () => {
    const r = await reportForRecord(hfRecord(hfRun));
    expect(r.files?.find((f) => f.role === "trainer_state")?.path).toBe(join(hfRun, "checkpoints/trainer_state.json"));
    expect(r.series?.loss).toEqual(hfLoss.map((h) => ({ step: h.step, value: h.loss })));
  });

  // A run requeued on its time-limit warning that then completed: the first segment's banner is not its end.
  const requeued = fixture("requeued_hf");
  const requeuedRecord = (restarts: number | undefined) => ({
    id: "r",
    name: "real-preempt-hf-manual",
    logs: { stdout: join(requeued, "8017036.out"), stderr: join(requeued, "8017036.err") },
    job: { id: "8017036", cluster: "sp", name: "real-preempt-hf-manual", submitted_at: "2026-12-03T16:57:30Z", argv: ["sbatch"], attempt: 1 },
    state: { state: "COMPLETED", category: "success" as const, terminal: true, exit_code: "0:0", ...(restarts === undefined ? {} : { restarts }) },
  });

  it("COMPLETED after a requeue (Restarts 1): the first segment's CANCELLED banner is no failure", async () => {
    const r = await reportForRecord(requeuedRecord(1));
    expect(r.failures).toEqual([]);
    expect(r.loss?.trend).toBe("DECREASING");
  });

  it("the same banner in a COMPLETED job that was never requeued is still reported (its script went on after a cancel)", async () => {
    const r = await reportForRecord(requeuedRecord(undefined));
    expect(r.failures?.map((f) => f.class)).toEqual(["CANCELLED"]);
  });
});

