import { describe, expect, it } from "vitest";
import { expandLogPattern, stderrPath } from "../src/early.ts";
import type { Track } from "../src/track.ts";

describe("sbatch filename patterns", () => {
  it("expands %j %A %a %x %u %% and zero padding as sbatch does", () => {
    const v = { jobId: "131", arrayJobId: "129", arrayTask: 2, jobName: "envtest", user: "root" };
    expect(expandLogPattern("out-j%j-A%A-a%a-x%x-u%u.txt", v)).toBe("out-j131-A129-a2-xenvtest-uroot.txt");
    expect(expandLogPattern("job%4j.out", { jobId: "128" })).toBe("job0128.out");
    expect(expandLogPattern("%A_%a 100%%", { jobId: "128" })).toBe("128_4294967294 100%");
    expect(expandLogPattern("node-%N.log", { jobId: "1" })).toBe("node-%N.log");
  });

  it("the batch step's %n %t %s %J are filled as core's rules have them (were left as written)", () => {
    expect(expandLogPattern("%j-n%n-t%t-s%s-J%J.out", { jobId: "7" })).toBe("7-n0-t0-sbatch-J7.batch.out");
  });

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
