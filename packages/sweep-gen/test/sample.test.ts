import { describe, expect, it } from "vitest";
import { createSampler } from "../src/index.ts";
import { sobolReference } from "../src/sample.ts";

describe("samplers", () => {
  it("Sobol' direction numbers match scipy.stats.qmc.Sobol(d=21, scramble=False)", () => {
    // Reference rows printed by scipy 1.17 (Joe-Kuo new-joe-kuo-6.21201 directions).
    expect(sobolReference(5, 21)).toEqual([0.875, 0.875, 0.125, 0.375, 0.875, 0.625, 0.875, 0.375, 0.375, 0.125, 0.375, 0.875, 0.875, 0.125, 0.875, 0.375, 0.875, 0.375, 0.375, 0.625, 0.625]);
    expect(sobolReference(37, 21)).toEqual([
      0.921875, 0.640625, 0.578125, 0.921875, 0.765625, 0.296875, 0.171875, 0.796875, 0.609375, 0.171875, 0.015625, 0.078125, 0.578125, 0.859375, 0.109375, 0.484375,
      0.796875, 0.421875, 0.046875, 0.140625, 0.953125,
    ]);
    expect(sobolReference(1000, 21)).toEqual([
      0.2197265625, 0.0966796875, 0.5185546875, 0.6767578125, 0.2802734375, 0.9072265625, 0.0458984375, 0.8994140625, 0.5009765625, 0.0693359375, 0.0849609375,
      0.2548828125, 0.1611328125, 0.3837890625, 0.1435546875, 0.3701171875, 0.7197265625, 0.3447265625, 0.9912109375, 0.7255859375, 0.5224609375,
    ]);
  });

  it("every method is deterministic, indexable and stays in [0,1)", () => {
    for (const method of ["random", "sobol", "halton"] as const) {
      const s = createSampler(method, 5, 42);
      const again = createSampler(method, 5, 42);
      for (let i = 0; i < 500; i++) {
        const p = s.point(i);
        expect(again.point(i)).toEqual(p);
        for (const x of p) expect(x >= 0 && x < 1).toBe(true);
      }
    }
  });

  it("random draws have a plausible mean and are not correlated across dimensions", () => {
    const s = createSampler("random", 2, 1);
    let sx = 0;
    let sxy = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const [x, y] = s.point(i) as [number, number];
      sx += x;
      sxy += (x - 0.5) * (y - 0.5);
    }
    expect(Math.abs(sx / n - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(sxy / n)).toBeLessThan(0.005);
  });

  it("refuses more dimensions than the tables hold", () => {
    expect(() => createSampler("sobol", 22, 0)).toThrow(/at most 21/);
    expect(() => createSampler("halton", 31, 0)).toThrow(/at most 30/);
  });
});
