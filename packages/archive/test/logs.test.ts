import { describe, expect, test } from "vitest";
import { expandLogPattern } from "../src/logs.ts";

// The rules are core's (packages/core/test/log-paths.test.ts); here, the glob archive makes of them.
describe("sbatch log patterns as globs", () => {
  test("an array task's %j is its raw_id when the record has it, else *", () => {
    expect(expandLogPattern("/l/%A_%a-%j.out", { id: "129_2", array_task: 2, raw_id: "131" })).toEqual({ glob: "/l/129_2-131.out", wildcard: false });
    expect(expandLogPattern("/l/%A_%a-%j.out", { id: "129_2" })).toEqual({ glob: "/l/129_2-*.out", wildcard: true });
  });
  test("the batch step's %n %t %s %J are known; %N from a one-node list; %b is *", () => {
    expect(expandLogPattern("/l/%j-%n-%t-%s-%J.out", { id: "7" }).glob).toBe("/l/7-0-0-batch-7.batch.out");
    expect(expandLogPattern("/l/%N.out", { id: "7" }, { nodeList: "gpu3.cluster" }).glob).toBe("/l/gpu3.out");
    expect(expandLogPattern("/l/%N.out", { id: "7" }, { nodeList: "gpu[1-2]" }).glob).toBe("/l/*.out");
    expect(expandLogPattern("/l/%b.out", { id: "7_3" }).glob).toBe("/l/*.out");
  });
  test("%u: job.user, else the caller's user", () => {
    expect(expandLogPattern("/l/%u.out", { id: "7", user: "alice" }, { user: "bob" }).glob).toBe("/l/alice.out");
    expect(expandLogPattern("/l/%u.out", { id: "7" }, { user: "bob" }).glob).toBe("/l/bob.out");
  });
  test("a relative pattern is resolved against baseDir, escaped too", () => {
    expect(expandLogPattern("logs/%j.out", { id: "7" }, { baseDir: "/s[1]" }).glob).toBe("/s\\[1\\]/logs/7.out");
  });
});
