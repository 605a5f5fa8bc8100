import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expandPattern, jobVars, resolveLogPath } from "../src/index.ts";
import { nameMatcher } from "../src/name-match.ts";

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

  it("file names are matched as the wildcard regex matches them, in linear time", async () => {
    const patterns = ["arr-%A_%a-%j.out", "%x-%j.out", "%x-%x-%x.out", "a%%b%jc.out", "%4j.%N.err", "lit.out"];
    const names = ["arr-129_2-131.out", "arr-129_2-.out", "x-12.out", "-12.out", "a-b-c.out", "a-b.out", "a%b7c.out", "0042.node1.err", "lit.out", "lit.outx", "x/1.out", "--.out", "-.out"];
    for (const pattern of patterns) {
      const vars = jobVars({ job: { id: "129_2" } }, {}).vars;
      delete vars.N;
      const re = expandPattern(pattern, vars).regex;
      const match = nameMatcher(pattern, vars);
      for (const name of names) expect(match(name), `${pattern} vs ${name}`).toBe(re.test(name));
    }
    // Three unknown %x against names made of "-": the regex took O(n^3) per name.
    const many = await mkdtemp(join(tmpdir(), "log-parse-names-"));
    try {
      const time = async (len: number) => {
        for (let i = 0; i < 40; i++) await writeFile(join(many, `${"-".repeat(len - 3)}${String(i).padStart(3, "0")}`), "");
        const t = performance.now();
        const r = await resolveLogPath(join(many, "%x-%x-%x.out"), { job: { id: "1" } });
        expect(r.how).toBe("unresolved");
        return performance.now() - t;
      };
      await time(60);
      const a = Math.min(await time(60), await time(60));
      const b = Math.min(await time(240), await time(240));
      // Linear gives about 4, cubic about 64: the bound is their geometric mean, so load on a
      // shared CI machine that slows one size fourfold does not decide.
      expect(b / a, `60 chars ${a.toFixed(1)} ms, 240 chars ${b.toFixed(1)} ms`).toBeLessThan(16);
    } finally {
      await rm(many, { recursive: true, force: true });
    }
  });
});
