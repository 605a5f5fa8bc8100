import { describe, expect, it } from "vitest";
import { AxisValues, firstDuplicate } from "../src/axis-values.ts";
import { parseRange } from "../src/axes.ts";
import { makeVal } from "../src/values.ts";
import { run, sweep } from "./helpers.ts";

const at = { source: "-p", path: "x" };
const axis = (...parts: (string | number)[]) => {
  const a = new AxisValues();
  for (const p of parts) {
    if (typeof p === "string") a.pushRange(parseRange(p), at);
    else a.push(makeVal(p, at));
  }
  return a;
};

describe("axes of any length", () => {
  it("-p x=1..200000 streams every run, in order", async () => {
    const r = await run({ params: ["x=1..200000"] });
    expect(r.code).toBe(0);
    expect(r.lines).toHaveLength(200_000);
    expect(r.records[0]).toMatchObject({ name: "x1", params: { x: 1 } });
    expect(r.records[199_999]).toMatchObject({ name: "x200000", params: { x: 200_000 } });
  }, 120_000);

  it("an axis longer than a million values is a sweep like any other (--max-runs is the only limit)", async () => {
    const r = await run({ params: ["x=1..3000000"], count: true, maxRuns: 3_000_000 });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("3000000\n");
    const file = await sweep("grid:\n  x: 0..2999999\n", { count: true, maxRuns: 3_000_000 });
    expect(file.stdout).toBe("3000000\n");
    // Still refused, with its size, over the limit.
    const over = await run({ params: ["x=1..3000000"], count: true });
    expect(over.code).toBe(1);
    expect(over.stderr).toContain("it makes 3,000,000 runs, over the limit of 1,000,000");
  }, 60_000);

  it("--count of a huge product is arithmetic (10^14 runs: enumerating would never end)", async () => {
    const r = await run({ params: ["x=1..10000000", "y=1..10000000"], count: true, maxRuns: 1e14 });
    expect(r.stdout).toBe("100000000000000\n");
    const zipped = await sweep("grid:\n  a: 0..9999999\n  b: 10000000..19999999\n  c: [1, 2]\nzip: [[a, b]]\n", { count: true, maxRuns: 1e8 });
    expect(zipped.stdout).toBe("20000000\n");
  }, 60_000);

  it("a zip of ranges advances together, lists and ranges mix", async () => {
    const r = await sweep("name: a{a}_b{b}\ngrid:\n  a: 0..2\n  b: [10, 20, 30]\nzip: [[a, b]]\n");
    expect(r.records.map((x) => x.name)).toEqual(["a0_b10", "a1_b20", "a2_b30"]);
    const m = await run({ params: ["x=0..2,10,20..21"] });
    expect(m.records.map((x) => (x.params as { x: number }).x)).toEqual([0, 1, 2, 10, 20, 21]);
  });

  it("duplicates across ranges and listed values are found by arithmetic", () => {
    expect(firstDuplicate(axis("1..3", 2))?.value.value).toBe(2);
    expect(firstDuplicate(axis("0..10:2", "5..9"))?.value.value).toBe(6);
    expect(firstDuplicate(axis("0..10:2", "1..9:2"))).toBeUndefined();
    expect(firstDuplicate(axis("0..1:0.1", 0.3))?.value.value).toBe(0.3);
    expect(firstDuplicate(axis("0..999999", "1000000..1999999", 5_000_000))).toBeUndefined();
    // 13-digit values a step of 1 apart round together at 12 significant digits.
    expect(firstDuplicate(axis("1000000000000..1000000000100"))?.value.value).toBe(1e12);
  });

  it("a duplicate is an error naming the axis", async () => {
    await expect(run({ params: ["x=1..5,3"] })).rejects.toThrow('-p: field "x": duplicate value 3 in axis "x"');
    const f = await sweep("grid:\n  x: 1000000000000..1000000000100\n");
    expect(f.code).toBe(1);
    expect(f.stderr).toContain('sweep.yaml:2: field "grid.x": duplicate value 1000000000000 in axis "x"');
  });
});
