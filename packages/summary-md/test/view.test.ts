import type { RunRecord } from "@slurmpipe/core";
import { describe, expect, it } from "vitest";
import { buildViews } from "../src/index.ts";

const held = (n: number): RunRecord => ({
  id: `r${n}`,
  name: `run${n}`,
  job: { id: `9_${n}` },
  state: { state: "PENDING", category: "pending", terminal: false, reason: n < 3 ? "JobHeldUser" : "Priority" },
});

describe("views", () => {
  it("runs with the same notes share one frozen array; other notes stay their own", () => {
    const runs = new Map([0, 1, 2, 3].map((n) => [`r${n}`, held(n)] as const));
    const missing = new Map([...runs].concat([["r9", { id: "r9", name: "run9" }]]));
    const views = buildViews({ runs, events: new Map() }, missing, 0);
    const [a, b, c, d, m] = views.map((v) => v.notes);
    expect(a).toEqual(["reason JobHeldUser"]);
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(d).toEqual(["reason Priority"]);
    expect(m).toEqual(["expected, no record"]);
    expect(Object.isFrozen(a)).toBe(true);
    expect(() => a!.push("x")).toThrow();
    // Runs without failures share one frozen empty list too.
    expect(views[0]!.failures).toBe(views[3]!.failures);
    expect(Object.isFrozen(views[0]!.failures)).toBe(true);
  });
});
