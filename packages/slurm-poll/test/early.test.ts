import { describe, expect, it } from "vitest";
import { stderrPath } from "../src/early.ts";
import type { Track } from "../src/track.ts";

describe("the stderr file of --early", () => {
  // The pattern letters' values are core's (core/test/log-paths.test.ts); here: which file and which job.
  it("resolves a relative path against the script's directory (where sbatch ran)", () => {
    const track = { key: "129_2", queryId: "129", arrayJobId: "129", arrayTask: 2, rawId: "131", trackedAt: "", restarts: 0 } as Track;
    const record = { id: "x", name: "r", script: { path: "runs/r/job.sbatch" }, logs: { stdout: "logs/%x-%A_%a.out" }, job: { id: "129_2", name: "r.spabc" } };
    expect(stderrPath(record, track, "/exp")).toBe("/exp/runs/r/logs/r.spabc-129_2.out");
    expect(stderrPath({ id: "x", name: "r", job: { id: "5" } }, { ...track, arrayTask: undefined, arrayJobId: undefined, rawId: "5", key: "5" }, "/exp")).toBe("/exp/slurm-5.out");
  });

  it("an array task's %j before its raw id is known stays as written (was the task key 129_2)", () => {
    const track = { key: "129_2", queryId: "129", arrayJobId: "129", arrayTask: 2, trackedAt: "", restarts: 0 } as Track;
    const record = { id: "x", name: "r", logs: { stderr: "/l/%j.err" }, job: { id: "129_2" } };
    expect(stderrPath(record, track, "/exp")).toBe("/l/%j.err");
    expect(stderrPath(record, { ...track, rawId: "131" }, "/exp")).toBe("/l/131.err");
  });

  it("%N from the job's one node, %u from job.user when the record has it", () => {
    const track = { key: "5", queryId: "5", rawId: "5", trackedAt: "", restarts: 0, state: { state: "FAILED", node_list: "gpu3.cluster" } } as Track;
    const record = { id: "x", name: "r", logs: { stderr: "/l/%N-%u.err" }, job: { id: "5", user: "alice" } };
    expect(stderrPath(record, track, "/exp")).toBe("/l/gpu3-alice.err");
  });
});
