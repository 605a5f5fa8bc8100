import type { RunRecord } from "@slurmpipe/core";
import { describe, expect, it } from "vitest";
import { buildViews, collectInputs } from "../src/index.ts";
import { tempDir, writeNdjson } from "./helpers.ts";

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

  it("keeps a job's newest event, by time, and takes only Slurm's start and end from it, never the poll time", async () => {
    const run = (id: string, job: string) => ({ id, name: id, job: { id: job }, state: { state: "COMPLETED", category: "success", terminal: true } });
    const event = (job: string, to: string, at: string, times: object = {}) => ({ kind: "event", job_id: job, run_id: job === "1" ? "a" : "b", from: null, to, at, ...times });
    const file = writeNdjson(`${tempDir()}/in.ndjson`, [
      // An old event (no started_at/ended_at): only poll times, which are not the job's times.
      event("1", "COMPLETED", "2025-01-01T00:10:00Z"),
      event("2", "COMPLETED", "2025-01-01T00:30:00Z", { started_at: "2025-01-01T00:19:30Z", ended_at: "2025-01-01T00:29:40Z" }),
      event("2", "RUNNING", "2025-01-01T00:20:00Z", { started_at: "2025-01-01T00:19:30Z" }),
      run("a", "1"),
      run("b", "2"),
    ]);
    const collected = await collectInputs([file], { errors: { report: () => expect.unreachable() }, fields: { plots: false } });
    expect(collected.events.get("2")?.to).toBe("COMPLETED");
    const [a, b] = buildViews(collected, undefined, 0);
    expect([a!.started, a!.ended]).toEqual([undefined, undefined]);
    expect([b!.started, b!.ended, b!.elapsedS]).toEqual(["2025-01-01T00:19:30Z", "2025-01-01T00:29:40Z", 610]);
  });
});
