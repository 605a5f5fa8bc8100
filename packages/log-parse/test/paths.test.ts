// The pattern rules themselves (values, matching, guesses, linear time) are core's and tested in
// packages/core/test/log-paths.test.ts; here, what log-parse makes of a record with them.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reportForRecord, resolveLogPath } from "../src/index.ts";
import { defaultPatterns } from "../src/paths.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "log-parse-paths-"));
  for (const f of ["slurm-131.out", "slurm-129.out", "slurm-7.out", "n-7-gpu3-alice.out", "slurm-44_1.out"]) await writeFile(join(dir, f), "x\n");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("a record's log paths", () => {
  it("%N from state.node_list, %u from job.user else --user, relative to --base-dir", async () => {
    const r = await resolveLogPath("n-%j-%N-%u.out", { job: { id: "7", user: "alice" } as never, state: { state: "RUNNING", node_list: "gpu3.cluster" } as never }, { user: "bob", baseDir: dir });
    expect(r).toEqual({ path: join(dir, "n-7-gpu3-alice.out"), how: "exact" });
    const bob = await resolveLogPath("n-%j-%u.out", { job: { id: "7" } }, { user: "bob", baseDir: dir });
    expect(bob).toEqual({ path: join(dir, "n-7-bob.out"), how: "exact" });
  });

  it("Slurm's default patterns when a record has a job but no logs", async () => {
    expect(defaultPatterns({ job: { id: "7" } })).toEqual({ stdout: "slurm-%j.out" });
    expect(defaultPatterns({ job: { id: "44_1" } })).toEqual({ stdout: "slurm-%A_%a.out" });
    const report = await reportForRecord({ job: { id: "7" } }, { baseDir: dir, csv: false });
    expect(report.files?.[0]).toMatchObject({ path: join(dir, "slurm-7.out"), role: "stdout", exists: true });
  });

  it("a guessed path is marked in the report (LOG_PATH_GUESSED), an unfilled one noted", async () => {
    const report = await reportForRecord({ job: { id: "129_2", array_job_id: "129", array_task: 2 }, logs: { stdout: join(dir, "slurm-%j.out") } }, { csv: false });
    expect(report.files?.[0]).toMatchObject({ path: join(dir, "slurm-131.out"), guessed: true });
    expect(report.flags?.map((f) => f.flag)).toContain("LOG_PATH_GUESSED");
    const unfilled = await reportForRecord({ job: { id: "1" }, logs: { stdout: join(dir, "%x/slurm-%j.out") } }, { csv: false });
    expect(unfilled.files?.[0]).toMatchObject({ exists: false });
    expect(unfilled.files?.[0]?.note).toMatch(/cannot fill %x/);
  });
});
