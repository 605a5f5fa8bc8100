import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultLogPattern, expandLogPath, fillFilenamePattern, findLogFile, type LogPatternValues, logNameMatcher, logPathGlob, logPatternValues } from "../src/index.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "core-log-paths-"));
  for (const f of ["slurm-131.out", "slurm-129.out", "arr-129_2-131.out", "train-55-gpu7.out"]) await writeFile(join(dir, f), "x\n");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const fill = (pattern: string, values: LogPatternValues) => fillFilenamePattern(pattern, values).text;

describe("log pattern values", () => {
  it("expands %j %A %a %x %u %n %t %s %J %% and zero padding as sbatch does", () => {
    const { values } = logPatternValues({ id: "128", name: "envtest" }, { user: "root" });
    expect(fill("out-j%j-A%A-a%a-x%x-u%u-n%n-t%t-s%s-J%J-%%.txt", values)).toBe("out-j128-A128-a4294967294-xenvtest-uroot-n0-t0-sbatch-J128.batch-%.txt");
    expect(fill("job%4j.out", values)).toBe("job0128.out");
    expect(fill("lit\\\\%j.out", values)).toBe("lit%j.out");
  });

  it("what slurm-poll --early's adapter was tested on: the same values (the adapter is gone)", () => {
    const task = logPatternValues({ id: "129_2", array_job_id: "129", array_task: 2, raw_id: "131", name: "envtest" }, { user: "root" }).values;
    expect(fill("out-j%j-A%A-a%a-x%x-u%u.txt", task)).toBe("out-j131-A129-a2-xenvtest-uroot.txt");
    const plain = logPatternValues({ id: "128" }, { user: "root" }).values;
    expect(fill("%A_%a 100%%", plain)).toBe("128_4294967294 100%");
    expect(fill("node-%N.log", logPatternValues({ id: "1" }).values)).toBe("node-%N.log");
    expect(fill("%j-n%n-t%t-s%s-J%J.out", logPatternValues({ id: "7" }).values)).toBe("7-n0-t0-sbatch-J7.batch.out");
  });

  it("an array task: %j is the raw id (job.raw_id), %A the array, %a the task", () => {
    expect(fill("out-j%j-A%A-a%a.txt", logPatternValues({ id: "129_2", raw_id: "131", name: "envtest" }).values)).toBe("out-j131-A129-a2.txt");
    expect(fill("%A_%a", logPatternValues({ id: "131", array_job_id: "129", array_task: 2 }).values)).toBe("129_2");
  });

  it("without raw_id an array task's %j and %J are unknown, with base + task then base as guesses", () => {
    const { values, rawIdGuesses } = logPatternValues({ id: "129_2" });
    expect(values.j).toBeUndefined();
    expect(values.J).toBeUndefined();
    expect(rawIdGuesses).toEqual(["131", "129"]);
  });

  it("job.user wins over the caller's user; %N only for one node, short name", () => {
    expect(logPatternValues({ id: "1", user: "alice" }, { user: "bob" }).values.u).toBe("alice");
    expect(logPatternValues({ id: "1" }, { user: "bob" }).values.u).toBe("bob");
    expect(logPatternValues({ id: "1", user: 5 as never }, { user: "bob" }).values.u).toBe("bob");
    expect(logPatternValues({ id: "1" }, { nodeList: "gpu7.cluster.local" }).values.N).toBe("gpu7");
    expect(logPatternValues({ id: "1" }, { nodeList: "gpu[1-2]" }).values.N).toBeUndefined();
    expect(logPatternValues({ id: "1" }).values.N).toBeUndefined();
  });

  it("only a number is a job id; %b is never known", () => {
    expect(logPatternValues({ id: "abc" }).values.j).toBeUndefined();
    expect(logPatternValues({ id: "12" }).values.b).toBeUndefined();
    expect(logPatternValues(undefined).values).toEqual({ n: "0", t: "0", s: "batch" });
  });

  it("Slurm's default patterns", () => {
    expect(defaultLogPattern({ id: "5" })).toBe("slurm-%j.out");
    expect(defaultLogPattern({ id: "5_1" })).toBe("slurm-%A_%a.out");
    expect(defaultLogPattern({ id: "6", array_task: 0 })).toBe("slurm-%A_%a.out");
    expect(defaultLogPattern(undefined)).toBe("slurm-%j.out");
  });
});

describe("exact paths and globs", () => {
  it("an exact path only when every letter is known; relative patterns against baseDir", () => {
    expect(expandLogPath("logs/%x-%j.out", { id: "7", name: "r" }, { baseDir: "/exp" })).toEqual({ path: "/exp/logs/r-7.out", text: "/exp/logs/r-7.out", unknown: new Set() });
    expect(expandLogPath("/l/node-%N.log", { id: "1" })).toEqual({ text: "/l/node-%N.log", unknown: new Set(["N"]) });
  });

  it("a glob: literals escaped by the caller's escape, unknown letters *", () => {
    const esc = (t: string) => t.replace(/[[\]*?{}()]/g, "\\$&");
    expect(logPathGlob("/l/%A_%a-%j.out", { id: "129_2", array_task: 2 }, esc)).toEqual({ glob: "/l/129_2-*.out", wildcard: true });
    expect(logPathGlob("/l/%x.out", { name: "run[1]" }, esc)).toEqual({ glob: "/l/run\\[1\\].out", wildcard: false });
    expect(logPathGlob("%N-%n.out", {}, esc, { baseDir: "/b[1]" })).toEqual({ glob: "/b\\[1\\]/*-0.out", wildcard: true });
  });
});

describe("finding the file", () => {
  it("without raw_id, a pattern with %a is matched in the directory", async () => {
    const r = await findLogFile(join(dir, "arr-%A_%a-%j.out"), { id: "129_2" });
    expect(r).toMatchObject({ path: join(dir, "arr-129_2-131.out"), how: "matched" });
  });

  it("without raw_id and only %j, base+task then base are guessed (and marked)", async () => {
    const r = await findLogFile(join(dir, "slurm-%j.out"), { id: "129_2", array_job_id: "129", array_task: 2 });
    expect(r).toMatchObject({ path: join(dir, "slurm-131.out"), how: "guessed" });
    const last = await findLogFile(join(dir, "slurm-%j.out"), { id: "129_3" });
    expect(last).toMatchObject({ path: join(dir, "slurm-129.out"), how: "guessed" });
  });

  it("an unknown placeholder never throws: matched as a wildcard, else reported unresolved", async () => {
    const r = await findLogFile(join(dir, "train-%j-%N.out"), { id: "55" });
    expect(r).toMatchObject({ path: join(dir, "train-55-gpu7.out"), how: "matched" });
    const none = await findLogFile(join(dir, "slurm-%j.out"), undefined);
    expect(none.how).toBe("unresolved");
    const unfilled = await findLogFile(join(dir, "%x/slurm-%j.out"), { id: "1" });
    expect(unfilled.how).toBe("unresolved");
    const gone = await findLogFile(join(dir, "no-such-dir/%x.out"), { id: "1" });
    expect(gone.how).toBe("unresolved");
  });

  it("relative patterns resolve against the base directory", async () => {
    const r = await findLogFile("slurm-%j.out", { id: "131" }, { baseDir: dir });
    expect(r).toEqual({ path: join(dir, "slurm-131.out"), how: "exact" });
  });

  it("file names are matched as the wildcard regex matches them, in linear time", async () => {
    const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const patterns = ["arr-%A_%a-%j.out", "%x-%j.out", "%x-%x-%x.out", "a%%b%jc.out", "%4j.%N.err", "lit.out"];
    const names = ["arr-129_2-131.out", "arr-129_2-.out", "x-12.out", "-12.out", "a-b-c.out", "a-b.out", "a%b7c.out", "0042.node1.err", "lit.out", "lit.outx", "x/1.out", "--.out", "-.out"];
    for (const pattern of patterns) {
      const { values } = logPatternValues({ id: "129_2" });
      // The reference: the regex the matcher replaced (it backtracks polynomially).
      const re = new RegExp(`^${fillFilenamePattern(pattern, values, { literal: escapeRe, unknown: (letter) => (/[jAant]/.test(letter) ? "\\d+" : "[^/]*") }).text}$`);
      const match = logNameMatcher(pattern, values);
      for (const name of names) expect(match(name), `${pattern} vs ${name}`).toBe(re.test(name));
    }
    // Three unknown %x against names made of "-": the regex took O(n^3) per name. findLogFile uses
    // the matcher on every directory entry; it is timed on its own (no file system in the timing,
    // whose noise on a loaded machine decided this test before), many names per run, best of five.
    const many = await mkdtemp(join(tmpdir(), "core-log-names-"));
    try {
      for (let i = 0; i < 40; i++) await writeFile(join(many, `${"-".repeat(240 - 3)}${String(i).padStart(3, "0")}`), "");
      expect((await findLogFile(join(many, "%x-%x-%x.out"), { id: "1" })).how).toBe("unresolved");
    } finally {
      await rm(many, { recursive: true, force: true });
    }
    const { values } = logPatternValues({ id: "1" });
    const match = logNameMatcher("%x-%x-%x.out", values);
    const time = (len: number) => {
      const names = Array.from({ length: 200 }, (_, i) => `${"-".repeat(len - 3)}${String(i).padStart(3, "0")}`);
      let best = Number.POSITIVE_INFINITY;
      for (let run = 0; run < 5; run++) {
        const t = performance.now();
        for (let k = 0; k < 20; k++) for (const name of names) expect(match(name)).toBe(false);
        best = Math.min(best, performance.now() - t);
      }
      return best;
    };
    time(60);
    const a = time(60);
    const b = time(240);
    // Linear gives about 4, cubic about 64: the bound is their geometric mean, so load on a
    // shared CI machine that slows one size fourfold does not decide.
    expect(b / a, `60 chars ${a.toFixed(1)} ms, 240 chars ${b.toFixed(1)} ms`).toBeLessThan(16);
  });
});
