import { describe, expect, it } from "vitest";
import { Series } from "../src/index.ts";

describe("Series", () => {
  it("keeps first, min, last and every plotted point at its own value over a long run with redraws", () => {
    const s = new Series("loss");
    const truth = new Map<number, number>(); // step -> the value of its last redraw
    const bySeq: number[] = []; // the same, by arrival order of the steps
    let step = 0;
    for (let i = 0; i < 20_000; i++) {
      if (i % 5 !== 0) step += 1; // every 5th value redraws the previous step
      // Down to a unique minimum at i = 9001, then higher values only; one NaN.
      const value = i === 7000 ? Number.NaN : i <= 9001 ? 10 - i / 1000 : 2 + (i % 7) / 10;
      s.addAt(step, value, i === 7000 ? "nan" : "", "a.log", i + 1);
      truth.set(step, value);
      bySeq[step] = value;
    }
    expect(s.count).toBe(step + 1);
    expect(s.first).toMatchObject({ step: 0, value: truth.get(0) });
    expect(s.last).toMatchObject({ step, value: truth.get(step) });
    const finite = [...truth.values()].filter(Number.isFinite);
    expect(s.min?.value).toBe(Math.min(...finite));
    expect(truth.get(s.min!.step)).toBe(s.min!.value);
    expect(s.firstNonFinite).toMatchObject({ raw: "nan", line: 7001 });
    const plotted = s.downsample(500);
    expect(plotted.length).toBeLessThanOrEqual(500);
    for (const p of plotted) {
      if (p.value === null) expect(truth.get(p.step)).toBeNaN();
      else expect(p.value).toBe(truth.get(p.step));
    }
    expect(s.min?.value).toBe(10 - 9001 / 1000);
    // The subsample is every stride-th value (stride a power of 2), each at its own value.
    const values = s.values();
    expect(values.length).toBeLessThanOrEqual(4097);
    const stride = 2 ** Math.ceil(Math.log2(bySeq.length / values.length));
    expect(Array.from(values)).toEqual(bySeq.filter((_, seq) => seq % stride === 0));
  });
});
