import { describe, expect, it } from "vitest";
import { TREND, lossTrend } from "../src/index.ts";

// Deterministic noise (a fixed LCG), so the tests cannot flake.
function noise(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1664525 + 1013904223) % 4294967296;
    return s / 4294967296 - 0.5;
  };
}

describe("loss trend", () => {
  it("a noisy decreasing curve is DECREASING", () => {
    const r = noise(1);
    const v = Array.from({ length: 500 }, (_, i) => 2 + 3 * Math.exp(-i / 150) + r() * 1.2);
    expect(lossTrend(v).trend).toBe("DECREASING");
  });
  it("flat noise is FLAT", () => {
    const r = noise(2);
    expect(lossTrend(Array.from({ length: 500 }, () => 2 + r() * 0.8)).trend).toBe("FLAT");
  });
  it("a single spike at the end is judged by the window, not the last point", () => {
    const v = Array.from({ length: 100 }, (_, i) => 3 - i * 0.02);
    v[99] = 50;
    expect(lossTrend(v).trend).toBe("DECREASING");
  });
  it("a rising end, and an explosion in the last few points, are DIVERGING", () => {
    expect(lossTrend(Array.from({ length: 100 }, (_, i) => 1 + i * 0.01)).trend).toBe("DIVERGING");
    const v = Array.from({ length: 200 }, () => 2);
    v.push(1e3, 1e4, 1e5);
    expect(lossTrend(v).trend).toBe("DIVERGING");
  });
  it("NaN anywhere is NAN; too few values is NO_DATA", () => {
    expect(lossTrend([3, 2, 1], true).trend).toBe("NAN");
    expect(lossTrend([]).trend).toBe("NO_DATA");
    expect(lossTrend([1]).trend).toBe("NO_DATA");
    expect(lossTrend([2, 1]).trend).toBe("DECREASING");
  });
  it("thresholds are the documented ones", () => {
    expect(TREND).toMatchObject({ window: 0.1, minWindow: 3, decreaseRel: 0.05, divergeRel: 0.1, explodeFactor: 10 });
    // 4% down is FLAT, 6% down is DECREASING; 9% up is FLAT, 11% up DIVERGING
    const series = (end: number) => [...Array(10).fill(1), ...Array(10).fill(end)];
    expect(lossTrend(series(0.96)).trend).toBe("FLAT");
    expect(lossTrend(series(0.94)).trend).toBe("DECREASING");
    expect(lossTrend(series(1.09)).trend).toBe("FLAT");
    expect(lossTrend(series(1.11)).trend).toBe("DIVERGING");
  });
});
