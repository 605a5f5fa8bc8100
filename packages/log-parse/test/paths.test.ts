import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expandPattern, jobVars, resolveLogPath } from "../src/index.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "log-parse-paths-"));
  for (const f of ["slurm-131.out", "slurm-129.out", "arr-129_2-131.out", "train-55-gpu7.out"]) await writeFile(join(dir, f), "x\n");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("filename patterns", () => {
  it("expands %j %A %a %x %u %% and zero padding as sbatch does", () => {
    const { vars } = jobVars({ job: { id: "128", name: "envtest" } }, { user: "root" });
    expect(expandPattern("out-j%j-A%A-a%a-x%x-u%u-n%n-t%t-s%s-%%.txt", vars).text).toBe("out-j128-A128-a4294967294-xenvtest-uroot-n0-t0-sbatch-%.txt");
    expect(expandPattern("job%4j.out", vars).text).toBe("job0128.out");
    expect(expandPattern("lit\\\\%j.out", vars).text).toBe("lit%j.out");
  });

  it("an array task: %j is the raw id (job.raw_id), %A the array, %a the task", () => {
    const { vars } = jobVars({ job: { id: "129_2", raw_id: "131", name: "envtest" } as never }, {});
    expect(expandPattern("out-j%j-A%A-a%a.txt", vars).text).toBe("out-j131-A129-a2.txt");
  });

  it("without raw_id, a pattern with %a is matched in the directory", async () => {
    const r = await resolveLogPath(join(dir, "arr-%A_%a-%j.out"), { job: { id: "129_2" } });
    expect(r).toMatchObject({ path: join(dir, "arr-129_2-131.out"), how: "matched" });
  });

  it("without raw_id and only %j, base+task then base are guessed (and marked)", async () => {
    const r = await resolveLogPath(join(dir, "slurm-%j.out"), { job: { id: "129_2", array_job_id: "129", array_task: 2 } });
    expect(r).toMatchObject({ path: join(dir, "slurm-131.out"), how: "guessed" });
    const last = await resolveLogPath(join(dir, "slurm-%j.out"), { job: { id: "129_3" } });
    expect(last).toMatchObject({ path: join(dir, "slurm-129.out"), how: "guessed" });
  });

  it("an unknown placeholder never throws: matched as a wildcard, else reported unresolved", async () => {
    const r = await resolveLogPath(join(dir, "train-%j-%N.out"), { job: { id: "55" } });
    expect(r).toMatchObject({ path: join(dir, "train-55-gpu7.out"), how: "matched" });
    const none = await resolveLogPath(join(dir, "slurm-%j.out"), {});
    expect(none.how).toBe("unresolved");
    const unfilled = await resolveLogPath(join(dir, "%x/slurm-%j.out"), { job: { id: "1" } });
    expect(unfilled.how).toBe("unresolved");
  });

  it("relative patterns resolve against the base directory", async () => {
    const r = await resolveLogPath("slurm-%j.out", { job: { id: "131" } }, { baseDir: dir });
    expect(r).toEqual({ path: join(dir, "slurm-131.out"), how: "exact" });
  });
});
