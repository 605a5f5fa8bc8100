import { chmodSync, chownSync, existsSync, lchownSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "@slurmpipe/core";
import { afterEach, describe, expect, it } from "vitest";
import { isRoot, mkfifo, modeOf, releaseFifo, tempFilesUnder, within } from "./fs-helpers.ts";
import { run, tempDir, writeNdjson } from "./helpers.ts";

// -o and the plot files get the same care as --update: written through (trusted) symlinks, modes
// kept, and a target that cannot be written refused before anything else is written.

const series = (k: number) => Array.from({ length: 8 }, (_, i) => ({ step: (i + 1) * 10, value: Number((2.3 / (1 + i * k)).toFixed(4)) }));
const record = (name: string, k = 0.3) => ({
  id: `id-${name}`,
  name,
  group: "g",
  job: { id: "7" },
  state: { state: "COMPLETED", category: "success", terminal: true },
  report: { loss: { trend: "DECREASING" }, series: { loss: series(k) } },
});

function setup(k = 0.3): { dir: string; input: string } {
  const dir = tempDir();
  return { dir, input: writeNdjson(join(dir, "in.ndjson"), [record("run_a", k), record("run_b", k)]) };
}

const report = (dir: string, input: string, output: string, extra: Parameters<typeof run>[0] = {}) =>
  run({ inputs: [input], output, now: "2025-10-24T01:00:00Z", ...extra }, { cwd: dir });

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe("-o FILE", () => {
  it("writes through a symlink into the linked file and keeps its mode", async () => {
    const { dir, input } = setup();
    mkdirSync(join(dir, "www"));
    writeFileSync(join(dir, "www", "status.md"), "old\n");
    chmodSync(join(dir, "www", "status.md"), 0o640);
    symlinkSync("www/status.md", join(dir, "STATUS.md"));
    expect((await report(dir, input, "STATUS.md", { plots: false })).code).toBe(0);
    expect(readlinkSync(join(dir, "STATUS.md"))).toBe("www/status.md");
    expect(readFileSync(join(dir, "www", "status.md"), "utf8")).toContain("| run_a | COMPLETED | 7 |");
    expect(modeOf(join(dir, "www", "status.md"))).toBe(0o640);
    expect(tempFilesUnder(dir)).toEqual([]);
  });

  it.each([
    ["a directory", (p: string) => mkdirSync(p), /-o: .*STATUS\.md is a directory/],
    ["a FIFO", (p: string) => void mkfifo(p), /-o: .*STATUS\.md is a FIFO/],
    ["a dangling symlink", (p: string) => symlinkSync("nowhere/status.md", p), /-o: .*STATUS\.md is a symlink to .*nowhere\/status\.md, which does not exist/],
    ["in a directory that does not exist", () => {}, /-o: directory .*missing does not exist/],
  ])("%s is a usage error before any plot is written", async (what, make, message) => {
    const { dir, input } = setup();
    const out = what.startsWith("in a") ? join(dir, "missing", "STATUS.md") : join(dir, "STATUS.md");
    make(out);
    try {
      const p = within(5000, report(dir, input, out));
      await expect(p).rejects.toThrow(message);
      await expect(p).rejects.toBeInstanceOf(UsageError);
      expect(existsSync(join(dir, "plots"))).toBe(false);
      expect(existsSync(join(dir, "missing"))).toBe(false);
    } finally {
      releaseFifo(out);
    }
  });

  it("a read-only file is refused (not a usage error) before any plot is written", async () => {
    const { dir, input } = setup();
    const out = join(dir, "STATUS.md");
    writeFileSync(out, "old\n");
    chmodSync(out, 0o444);
    const p = report(dir, input, out);
    await expect(p).rejects.toThrow(new RegExp(`cannot write ${out}: the file is read-only \\(mode 0444\\)`));
    await expect(p).rejects.not.toBeInstanceOf(UsageError);
    expect(readFileSync(out, "utf8")).toBe("old\n");
    expect(existsSync(join(dir, "plots"))).toBe(false);
  });
});

describe("plot files", () => {
  it("keep their mode and symlinks when rewritten; new ones follow the umask", async () => {
    const { dir, input } = setup();
    expect((await report(dir, input, "STATUS.md")).code).toBe(0);
    const a = join(dir, "plots", "g", "run_a.svg");
    const b = join(dir, "plots", "g", "run_b.svg");
    const overview = join(dir, "plots", "overview-g.svg");
    // A file created the plain way shows what the umask gives a new file.
    writeFileSync(join(dir, "probe"), "");
    expect(modeOf(overview)).toBe(modeOf(join(dir, "probe")));
    // New loss values, so every SVG changes and is rewritten.
    const again = writeNdjson(join(dir, "in2.ndjson"), [record("run_a", 0.5), record("run_b", 0.5)]);
    chmodSync(a, 0o664);
    mkdirSync(join(dir, "shared"));
    renameSync(b, join(dir, "shared", "run_b.svg"));
    symlinkSync("../../shared/run_b.svg", b);
    chmodSync(overview, 0o600);
    const before = readFileSync(a, "utf8");
    expect((await report(dir, again, "STATUS.md")).code).toBe(0);
    expect(readFileSync(a, "utf8")).not.toBe(before);
    expect(modeOf(a)).toBe(0o664);
    expect(modeOf(overview)).toBe(0o600);
    expect(readlinkSync(b)).toBe("../../shared/run_b.svg");
    expect(readFileSync(join(dir, "shared", "run_b.svg"), "utf8")).toContain("<svg");
    expect(readFileSync(join(dir, "shared", "run_b.svg"), "utf8")).not.toBe(before);
    expect(tempFilesUnder(dir)).toEqual([]);
  });

  it("a read-only plot file that would change is an error naming it; the report is not written", async () => {
    const { dir, input } = setup();
    expect((await report(dir, input, "STATUS.md")).code).toBe(0);
    const a = join(dir, "plots", "g", "run_a.svg");
    writeFileSync(a, "<svg/>");
    chmodSync(a, 0o444);
    writeFileSync(join(dir, "STATUS.md"), "old\n");
    await expect(report(dir, input, "STATUS.md")).rejects.toThrow(new RegExp(`cannot write ${a}: the file is read-only \\(mode 0444\\)`));
    expect(readFileSync(a, "utf8")).toBe("<svg/>");
    expect(readFileSync(join(dir, "STATUS.md"), "utf8")).toBe("old\n");
  });

  it("a FIFO where a plot goes is an error naming it, not a hang", async () => {
    const { dir, input } = setup();
    mkdirSync(join(dir, "plots", "g"), { recursive: true });
    const fifo = mkfifo(join(dir, "plots", "g", "run_a.svg"));
    try {
      await expect(within(5000, report(dir, input, "STATUS.md"))).rejects.toThrow(new RegExp(`${fifo} is a FIFO \\(named pipe\\), not a regular file`));
      expect(existsSync(join(dir, "STATUS.md"))).toBe(false);
    } finally {
      releaseFifo(fifo);
    }
  });

  it("--plots naming a file, not a directory, is a usage error", async () => {
    const { dir, input } = setup();
    writeFileSync(join(dir, "plots"), "x");
    const p = report(dir, input, "STATUS.md", { plots: "plots" });
    await expect(p).rejects.toThrow(/--plots: .*plots is a regular file, not a directory/);
    await expect(p).rejects.toBeInstanceOf(UsageError);
    expect(existsSync(join(dir, "STATUS.md"))).toBe(false);
  });

  it.runIf(isRoot)("a plots directory link someone else made is refused before anything is written", async () => {
    const { dir, input } = setup();
    mkdirSync(join(dir, "elsewhere"));
    symlinkSync("elsewhere", join(dir, "plots"));
    lchownSync(join(dir, "plots"), 4242, 4242);
    await expect(report(dir, input, "STATUS.md")).rejects.toThrow(/refusing to follow .*\/plots: the symlink belongs to uid 4242/);
    expect(readdirSync(join(dir, "elsewhere"))).toEqual([]);
    expect(existsSync(join(dir, "STATUS.md"))).toBe(false);
  });
});

describe("links in the path the user typed", () => {
  it.runIf(isRoot)("are followed whoever made them (as any command would); only the names summary-md picks are checked", async () => {
    const { dir, input } = setup();
    mkdirSync(join(dir, "real"));
    mkdirSync(join(dir, "shared"));
    symlinkSync("../real", join(dir, "shared", "proj"));
    chownSync(join(dir, "shared"), 4242, 4242);
    lchownSync(join(dir, "shared", "proj"), 4343, 4343);
    expect((await report(dir, input, join(dir, "shared", "proj", "STATUS.md"))).code).toBe(0);
    expect(readFileSync(join(dir, "real", "STATUS.md"), "utf8")).toContain("| run_a | COMPLETED | 7 |");
    expect(existsSync(join(dir, "real", "plots", "g", "run_a.svg"))).toBe(true);
  });
});
