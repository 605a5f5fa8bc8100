import { describe, expect, it } from "vitest";
import { fillFilenamePattern, parseFilenamePattern } from "../src/index.ts";

describe("sbatch filename patterns", () => {
  it("fills known letters, pads numbers, keeps %% and literal text", () => {
    const r = fillFilenamePattern("logs/%x-%4j_%A_%a.%%.out", { x: "run1", j: "131", A: "129", a: "2" });
    expect(r).toEqual({ text: "logs/run1-0131_129_2.%.out", unknown: new Set() });
  });
  it("reports unknown letters and leaves them as written unless told otherwise", () => {
    expect(fillFilenamePattern("slurm-%j-%N.out", { j: "7" })).toEqual({ text: "slurm-7-%N.out", unknown: new Set(["N"]) });
    expect(fillFilenamePattern("a[1]/%j.out", {}, { literal: (s) => s.replace(/[[\]]/g, "\\$&"), unknown: () => "*" }).text).toBe("a\\[1\\]/*.out");
  });
  it("turns substitution off when the pattern has a \\\\", () => {
    expect(parseFilenamePattern("out\\\\-%j.txt")).toEqual([{ literal: "out-%j.txt" }]);
    expect(fillFilenamePattern("out\\\\-%j.txt", { j: "1" }).text).toBe("out-%j.txt");
  });
});
