import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseLogFile } from "../src/index.ts";

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
type Pt = { step: number; value: number | null; raw?: string };
const pts = (s: Pt[] | undefined) => (s ?? []).map((p) => [p.step, p.value ?? p.raw]);

// Every fixture line is quoted from shared/reference/log-formats.md.
describe("framework formats", () => {
  it("PyTorch Lightning tqdm bar: \\r updates, last update per step, global step, nan.0", async () => {
    const r = await parseLogFile(fixture("lightning.log"));
    expect(pts(r.series?.loss)).toEqual([
      [4, 10.05], // two redraws of step 4: the last wins
      [18, 8.5],
      [36, 4.8e6],
    ]);
    expect(pts(r.series?.val_loss)).toEqual([[36, "nan.0"]]);
    expect(r.loss?.trend).toBe("NAN");
    expect(r.failures?.[0]?.class).toBe("NAN_LOSS");
  });

  it("Lightning RichProgressBar frames (non-TTY: one per epoch): step = epoch x batches + batch", async () => {
    // The frame shape of test/corpus/real-pl-ok (Lightning 2.6.6, rich), over several epochs.
    const frames = [
      "Epoch 0/2  ━━━━━━━━━━━━━━━━ 30/30 0:00:00 • 0:00:00 109.72it/s v_num: 0.000 train_loss: 2.310  ",
      "Epoch 1/2  ━━━━━━━━━━━━━━━━ 0/30 0:00:00 • -:--:-- 0.00it/s v_num: 0.000 train_loss: 2.310  ",
      "Epoch 1/2  ━━━━━━━━╸━━━━━━━ 15/30 0:00:00 • 0:00:01 98.10it/s v_num: 0.000 train_loss: 1.125  ",
      "Epoch 2/2  ━━━━━━━━━━━━━━━━ 30/30 0:00:00 • 0:00:00 576.14it/s v_num: 0.000 train_loss: nan  ",
    ];
    const dir = await mkdtemp(join(tmpdir(), "lp-rich-"));
    await writeFile(join(dir, "out"), `${frames.join("\n")}\n`);
    const r = await parseLogFile(join(dir, "out"));
    expect(pts(r.series?.loss)).toEqual([
      [30, 2.31],
      [45, 1.125],
      [90, "nan"],
    ]);
    expect(r.loss?.first_nonfinite?.step).toBe(90);
    await rm(dir, { recursive: true, force: true });
  });

  it("HF Trainer dicts, numeric and string values; lr alias; final summary", async () => {
    const r = await parseLogFile(fixture("hf.log"));
    expect(pts(r.series?.loss)).toEqual([
      [0, 1.5214],
      [1, 1.2],
      [2, 0.9],
    ]);
    expect(r.series?.lr?.[0]?.value).toBeCloseTo(1.4285714285714286e-6);
    expect(pts(r.series?.eval_loss)).toEqual([[0, 1.1]]);
    expect(pts(r.series?.train_loss)).toEqual([[0, 2.819730052947998]]);
    expect(r.series?.epoch).toBeUndefined();
    expect(r.loss).toMatchObject({ metric: "loss", first: 1.5214, last: 0.9, min: 0.9 });
  });

  it("HF NaN filter: loss shows 0 while grad_norm is nan -> NAN, not 'converged'", async () => {
    const r = await parseLogFile(fixture("hf_nan_filtered.log"));
    expect(pts(r.series?.loss)).toEqual([
      [0, 1.491e6],
      [1, 0],
      [2, 0],
    ]);
    expect(r.loss).toMatchObject({ trend: "NAN", first_nonfinite: { metric: "grad_norm", raw: "nan", line: 1 } });
    expect(r.failures?.[0]).toMatchObject({ class: "NAN_LOSS", evidence: [{ line: 1 }] });
  });

  it("torchtune StdoutLogger and tqdm description", async () => {
    const r = await parseLogFile(fixture("torchtune.log"));
    expect(pts(r.series?.loss).map(([s]) => s)).toEqual([1, 2, 25, 26]);
    expect(r.series?.loss?.[3]?.value).toBeCloseTo(1.16218080520629);
    expect(pts(r.series?.lr)).toEqual([
      [1, 2e-5],
      [2, 2e-5],
    ]);
    expect(r.series?.tokens_per_second_per_gpu?.[0]?.value).toBeCloseTo(57.8288);
  });

  it("nanoGPT iter and eval lines, timestamp prefix, mfu sentinel skipped", async () => {
    const r = await parseLogFile(fixture("nanogpt.log"));
    expect(pts(r.series?.loss)).toEqual([
      [0, 4.2648],
      [100, 2.4049],
      [3020, "nan"],
      [1631, 4.0863],
    ]);
    expect(pts(r.series?.mfu)).toEqual([
      [100, 16.59],
      [3020, 14.36],
    ]);
    expect(pts(r.series?.val_loss)).toEqual([[250, 1.722]]);
    expect(r.loss?.first_nonfinite).toMatchObject({ step: 3020, raw: "nan", line: 5 });
  });

  it("Megatron-LM: uppercase exponents, lm loss as the loss, validation loss", async () => {
    const r = await parseLogFile(fixture("megatron.log"));
    expect(r.loss?.metric).toBe("lm_loss");
    expect(pts(r.series?.loss)).toEqual([
      [71, 1.818812],
      [122, 2.50422],
    ]);
    expect(pts(r.series?.lr)).toEqual([
      [71, 1.42e-5],
      [122, 9.15e-6],
    ]);
    expect(pts(r.series?.grad_norm)).toEqual([
      [71, 1.3],
      [122, 0.231],
    ]);
    expect(pts(r.series?.val_loss)).toEqual([[14194, 2.724416]]);
    expect(r.steps_seen).toBe(122);
  });

  it("DeepSpeed: lr per step, OVERFLOW lines are benign and not metrics", async () => {
    const r = await parseLogFile(fixture("deepspeed.log"));
    expect(pts(r.series?.lr)).toEqual([
      [40, 5e-5],
      [50, 4e-5],
    ]);
    expect(Object.keys(r.series ?? {})).toEqual(["lr"]);
    expect(r.benign_warnings).toBe(1);
    expect(r.loss?.trend).toBe("NO_DATA");
    expect(r.failures).toEqual([]);
  });

  it("Keras 2 backspace/\\r progbar and Keras 3 ANSI progbar", async () => {
    const r = await parseLogFile(fixture("keras.log"));
    expect(pts(r.series?.loss)).toEqual([
      [64, 2.3547],
      [128, 2.2],
      [125, 3.9305],
      [330, 0.1618], // epoch 2 of 165 steps: (2-1)*165 + 165
    ]);
    expect(pts(r.series?.val_loss)).toEqual([[330, 0.1553]]);
    expect(pts(r.series?.accuracy)).toEqual([[330, 0.781]]);
  });

  it("plain key=value, key: value, fairseq and mnist lines", async () => {
    const r = await parseLogFile(fixture("keyvalue.log"));
    expect(pts(r.series?.loss)).toEqual([
      [1, 2.5],
      [2, 2.25],
      [3, 2],
      [2800, 9.255],
      [4, 2.3054],
    ]);
    expect(pts(r.series?.grad_norm)).toEqual([[2800, 3.23]]);
    expect(pts(r.series?.accuracy)).toEqual([[3, 0.5]]);
  });

  it("user patterns: one group, or named step/value groups", async () => {
    const { parseMetricSpec } = await import("../src/index.ts");
    const r = await parseLogFile(fixture("nanogpt.log"), {
      patterns: [parseMetricSpec("ms=time ([\\d.]+)ms"), parseMetricSpec("vl=step (?<step>\\d+): train loss \\S+, val loss (?<value>\\S+)")],
    });
    expect(pts(r.series?.ms).map(([, v]) => v)).toEqual([9371.81, 929.71, 1015.95, 561.94]);
    expect(pts(r.series?.vl)).toEqual([[250, 1.722]]);
    expect(() => parseMetricSpec("nogroup=loss \\d+")).toThrow(/capture group/);
    expect(() => parseMetricSpec("bad=(")).toThrow(/invalid regex/);
    expect(() => parseMetricSpec("=x(\\d)")).toThrow(/name=<regex>/);
  });
});
