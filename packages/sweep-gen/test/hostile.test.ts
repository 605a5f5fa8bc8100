import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "@slurmpipe/core";
import { describe, expect, it } from "vitest";
import { readSweepText } from "../src/sweep-file.ts";
import { sweep } from "./helpers.ts";

const HEAD = 'command: [python, t.py]\nname: "r{i}"\n';

describe("run directories: distinct, and never a literal 'undefined'", () => {
  it("a dir placeholder whose value has nothing left after sanitising is an error naming the value and the run", async () => {
    const r = await sweep(`${HEAD}dir: "runs/{v}"\ngrid:\n  i: [0, 1, 2, 3, 4, 5]\n  v: ["..", ".", "", "/", "-", "日本"]\nzip: [[i, v]]\n`);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    for (const v of ["..", ".", "", "/", "-", "日本"]) expect(r.stderr).toContain(`field "dir": {v} = ${JSON.stringify(v)} leaves nothing for a directory name`);
    expect(r.stderr).not.toContain("undefined");
  });

  it("two runs whose dirs sanitise to the same path are an error", async () => {
    const r = await sweep(`${HEAD}dir: "runs/{v}"\ngrid:\n  i: [0, 1]\n  v: ["a/b", "a-b"]\nzip: [[i, v]]\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('runs #0 and #1 would share the directory "runs/a-b"');
  });

  it("a dir that leaves out a varying parameter is an error; with {name} or every parameter it is fine", async () => {
    const shared = await sweep(`${HEAD.replace("r{i}", "r{i}_{v}")}dir: "runs/{v}"\ngrid:\n  i: [0, 1]\n  v: [a, b]\n`);
    expect(shared.code).toBe(1);
    expect(shared.stderr).toContain('would share the directory "runs/a"');
    const named = await sweep(`${HEAD.replace("r{i}", "r{i}_{v}")}dir: "runs/{v}/{name}"\ngrid:\n  i: [0, 1]\n  v: [a, b]\n`);
    expect(named.code).toBe(0);
    expect(named.records.map((x) => x.dir)).toEqual(["runs/a/r0_a", "runs/b/r0_b", "runs/a/r1_a", "runs/b/r1_b"]);
    const full = await sweep(`${HEAD}dir: "runs/{i}"\ngrid:\n  i: [0, 1]\n`);
    expect(full.records.map((x) => x.dir)).toEqual(["runs/0", "runs/1"]);
  });
});

describe("sweeps too big to mean", () => {
  // 10^4 x 10^4 x 10^4 = 10^12 runs, with no separators in the name (so names cannot be proven).
  const huge = `command: [python, t.py]\nname: "r{a}{b}{c}"\ngrid:\n  a: 0..9999\n  b: 0..9999\n  c: 0..9999\n`;
  it("a 10^12-run grid is refused up front, saying how many runs and how to proceed (also with --count)", async () => {
    for (const opts of [{}, { count: true }]) {
      const r = await sweep(huge, opts);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain("it makes 1,000,000,000,000 runs, over the limit of 1,000,000");
      expect(r.stderr).toContain("--max-runs");
    }
  });
  it("--max-runs raises the limit; the default still takes a million runs", async () => {
    const r = await sweep(`${HEAD}grid:\n  i: 0..1999\n`, { count: true, maxRuns: 2000 });
    expect(r.lines).toEqual(["2000"]);
    expect((await sweep(`${HEAD}grid:\n  i: 0..1999\n`, { count: true, maxRuns: 1999 })).code).toBe(1);
    expect((await sweep(`command: [python, t.py]\nname: "r{a}_{b}"\ngrid:\n  a: 0..999\n  b: 0..999\n`, { count: true })).lines).toEqual(["1000000"]);
  });
});

describe("a million-value axis", () => {
  it("is counted without overflowing the stack (the name check took Math.max of every label)", async () => {
    const r = await sweep(`${HEAD}grid:\n  i: 0..999999\n`, { count: true });
    expect(r.stderr).not.toMatch(/call stack/i);
    expect(r.lines).toEqual(["1000000"]);
  }, 60_000);
});

describe("hostile YAML", () => {
  it("an alias bomb is refused quickly, at its line", async () => {
    const lines = [HEAD.trimEnd(), "params:", "  a0: &a0 [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 9; i++) lines.push(`  a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(", ")}]`);
    lines.push("grid:\n  i: [1]\n");
    // Expanded, the document holds 10^9 values: only a refusal ends within the test's time limit.
    const r = await sweep(lines.join("\n"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/sweep\.yaml:\d+: field "params\.a\d": YAML aliases expand too much/);
  }, 30_000);

  it.each(["!!js/function 'function(){}'", "!foo 1", "!!binary aGVsbG8=", "!!python/object:os.system ls", "!!set {a: null}"])(
    "a custom tag (%s) is an error at its line, never a silent string",
    async (value) => {
      const r = await sweep(`${HEAD}grid:\n  i: [${value}, 2]\n`);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/sweep\.yaml:4: YAML tag \S+ is not allowed/);
    },
  );

  it("core tags are fine", async () => {
    const r = await sweep(`${HEAD}grid:\n  i: [!!int 1, !!str two]\n`);
    expect(r.code).toBe(0);
    expect(r.records.map((x) => (x.params as { i: unknown }).i)).toEqual([1, "two"]);
  });

  it("deep nesting is an error at its line, not a stack overflow", async () => {
    for (const depth of [200, 10_000]) {
      const r = await sweep(`${HEAD}grid:\n  i: [1]\nparams:\n  x: ${"[".repeat(depth)}${"]".repeat(depth)}\n`);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/sweep\.yaml:6: YAML:? nested deeper than/);
      expect(r.stderr).not.toMatch(/call stack/i);
    }
  });
});

describe("sweep files that are not files", () => {
  it("a FIFO, a device or a directory is refused without blocking; a symlink to a file is read", () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-sweep-file-"));
    execFileSync("mkfifo", [join(dir, "fifo.yaml")]);
    for (const path of [join(dir, "fifo.yaml"), "/dev/zero", dir]) {
      expect(() => readSweepText(path)).toThrow(UsageError);
      expect(() => readSweepText(path)).toThrow(/is a (FIFO \(named pipe\)|character device|directory), not a regular file; not read/);
    }
    writeFileSync(join(dir, "real.yaml"), HEAD);
    execFileSync("ln", ["-s", join(dir, "real.yaml"), join(dir, "link.yaml")]);
    expect(readSweepText(join(dir, "link.yaml"))).toBe(HEAD);
    expect(() => readSweepText(join(dir, "missing.yaml"))).toThrow(/cannot read sweep file .*missing\.yaml/);
  });

  it("the built command refuses them with exit 2", () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-sweep-cli-"));
    execFileSync("mkfifo", [join(dir, "fifo.yaml")]);
    for (const path of [join(dir, "fifo.yaml"), "/dev/zero"]) {
      const r = spawnSync(process.execPath, [fileURLToPath(new URL("../dist/cli.mjs", import.meta.url)), path], { timeout: 20_000, encoding: "utf8" });
      expect(r.signal, path).toBeNull();
      expect(r.status, path).toBe(2);
      expect(r.stderr).toContain("not a regular file; not read");
    }
  });
});
