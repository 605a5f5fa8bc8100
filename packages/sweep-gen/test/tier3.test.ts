import { readFileSync } from "node:fs";
import { join } from "node:path";
import { RunRecord } from "@slurmpipe/core";
import { describe, expect, it } from "vitest";
import { run, tier3 } from "./helpers.ts";

describe("examples/tier3.yaml", () => {
  it("counts exactly 216 runs", async () => {
    const r = await run({ file: tier3, count: true });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("216\n");
  });

  it("emits 216 valid records with unique, readable, safe names and unique ids", async () => {
    const r = await run({ file: tier3 });
    expect(r.code).toBe(0);
    expect(r.records).toHaveLength(216);
    for (const rec of r.records) {
      expect(RunRecord.safeParse(rec).success).toBe(true);
      expect(rec.name).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_.+=-]{0,99}$/);
      expect(String(rec.id)).toMatch(/^[0-9a-f]{16}$/);
    }
    expect(new Set(r.records.map((x) => x.name)).size).toBe(216);
    expect(new Set(r.records.map((x) => x.id)).size).toBe(216);
    const names = r.records.map((x) => x.name);
    expect(names).toContain("S-core_lr0.05_wd1e-4_s0");
    expect(names).toContain("S-narrow_lr0.2_wd1e-2_s5");
    expect(names).toContain("S-bn-off_lr0.1_wd1e-3_s3");
  });

  it("has 54 runs per variant with the variant's overrides, priorities and resources", async () => {
    const r = await run({ file: tier3 });
    const by = (v: string) => r.records.filter((x) => x.variant === v);
    for (const v of ["S-core", "S-adamw", "S-bn-off", "S-narrow"]) expect(by(v)).toHaveLength(54);
    const adamw = by("S-adamw")[0]!;
    expect(adamw.params).toMatchObject({ optimizer: "adamw", betas: [0.9, 0.999], batch_norm: true });
    expect(adamw.command).toContain("betas=[0.9,0.999]");
    const bnOff = by("S-bn-off")[0]!;
    expect(bnOff.params).toMatchObject({ batch_norm: false, grad_clip_norm: 1 });
    expect(bnOff.command).toContain("grad_clip_norm=1.0");
    expect(by("S-narrow")[0]!.params).toMatchObject({ width_multiplier: 0.5 });
    expect(by("S-narrow")[0]!.resources).toMatchObject({ mem: "8G", time: "02:00:00" });
    expect(by("S-core")[0]!.priority).toBe(3);
    expect(by("S-narrow")[0]!.priority).toBe(1);
    expect(by("S-core")[0]!.group).toBe("S-core");
  });

  it("keeps numbers typed in params and readable in commands", async () => {
    const r = await run({ file: tier3 });
    const rec = r.records[0]!;
    expect(rec.params).toMatchObject({ lr: 0.05, weight_decay: 0.0001, seed: 0 });
    expect(rec.command).toEqual([
      "python",
      "../../../examples/train.py",
      "batch_norm=true",
      "lr=0.05",
      "max_steps=2000",
      "optimizer=sgd",
      "seed=0",
      "weight_decay=1e-4",
      "width_multiplier=1.0",
    ]);
    expect(rec.dir).toBe("runs/tier3/S-core_lr0.05_wd1e-4_s0");
    // The job runs in its dir, and the trainer path must resolve from there to examples/train.py.
    expect(join(String(rec.dir), String((rec.command as string[])[1]))).toBe("examples/train.py");
    expect(rec.outputs).toEqual(["metrics.csv", "checkpoints/**/*.ckpt"]);
  });

  it("is byte-identical across runs and matches the golden first three records", async () => {
    const a = await run({ file: tier3 });
    const b = await run({ file: tier3 });
    expect(a.stdout).toBe(b.stdout);
    await expect(a.lines.slice(0, 3).join("\n") + "\n").toMatchFileSnapshot("./__snapshots__/tier3-first3.ndjson");
  });

  it("gives the same ids when the file's keys are reordered", async () => {
    const text = readFileSync(tier3, "utf8");
    const a = await run({ file: tier3 });
    // Swap the order of grid axes and of two params: the runs come out in another order, same ids.
    const swapped = text
      .replace("  lr: [0.05, 0.1, 0.2]\n  weight_decay: [1e-4, 1e-3, 1e-2]\n", "  weight_decay: [1e-4, 1e-3, 1e-2]\n  lr: [0.05, 0.1, 0.2]\n")
      .replace("  optimizer: sgd\n  batch_norm: true\n", "  batch_norm: true\n  optimizer: sgd\n");
    expect(swapped).not.toBe(text);
    const b = await run({ file: "t.yaml" }, { "t.yaml": swapped });
    expect(b.records.map((x) => x.id).sort()).toEqual(a.records.map((x) => x.id).sort());
    expect(b.lines).not.toEqual(a.lines);
  });

  it("selects subsets with filters and excludes", async () => {
    const core = await run({ file: tier3, filter: ["variant=S-core"], count: true });
    expect(core.stdout).toBe("54\n");
    const fast = await run({ file: tier3, filter: ["variant=S-core,S-adamw", "lr>0.05"], exclude: ["seed>=3"] });
    expect(fast.records).toHaveLength(2 * 2 * 3 * 3);
    expect(fast.records.every((x) => (x.params as { lr: number }).lr > 0.05 && (x.params as { seed: number }).seed < 3)).toBe(true);
    const wd = await run({ file: tier3, filter: ["weight_decay=0.0001 && variant!=S-narrow"], count: true });
    expect(wd.stdout).toBe(String(3 * 3 * 6) + "\n");
  });
});
