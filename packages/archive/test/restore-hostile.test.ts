import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, test } from "vitest";
import { archive, cleanup, makeSweep, sha, tempDir } from "./helpers.ts";
import { FORMATS, build, gzipBomb, snapshot, writeArchive } from "./hostile.ts";

afterAll(cleanup);

const NOW = "2025-01-01T00:00:00Z";
const failures = (records: Record<string, unknown>[]) => records.filter((r) => r.ok === false && r.problem !== "not_restored");

describe("restore never follows a link it did not create (item 3)", () => {
  for (const format of FORMATS) {
    test(`${format}: r1 -> elsewhere inside --to is refused, nothing written there`, async () => {
      const root = tempDir();
      const path = await writeArchive(root, "a", format, build([{ path: "r1/metrics.csv", data: "step,loss\n1,2\n" }, { path: "top.txt", data: "top\n" }]).items);
      const elsewhere = join(root, "elsewhere");
      mkdirSync(elsewhere);
      const to = join(root, "to");
      mkdirSync(to);
      symlinkSync(elsewhere, join(to, "r1"));
      for (const force of [false, true]) {
        const r = await archive({ restore: path, to, force }, { cwd: root });
        expect(r.code).toBe(1);
        expect(readdirSync(elsewhere)).toEqual([]);
        expect(await snapshot(to)).toEqual([`r1 -> ${elsewhere}`]);
        expect(failures(r.records)).toContainEqual(expect.objectContaining({ path: "r1/metrics.csv", problem: "unsafe_target" }));
        expect(r.stderr).toContain("r1/metrics.csv");
        expect(r.stderr).toMatch(/symbolic link/);
      }
    });
  }

  test("a link at the target itself is not replaced, even with --force", async () => {
    const root = tempDir();
    const path = await writeArchive(root, "a", "tar.gz", build([{ path: "r1/metrics.csv", data: "x\n" }]).items);
    const to = join(root, "to");
    mkdirSync(join(to, "r1"), { recursive: true });
    writeFileSync(join(root, "victim"), "mine");
    symlinkSync(join(root, "victim"), join(to, "r1/metrics.csv"));
    const r = await archive({ restore: path, to, force: true }, { cwd: root });
    expect(r.code).toBe(1);
    expect(readFileSync(join(root, "victim"), "utf8")).toBe("mine");
    expect((await lstat(join(to, "r1/metrics.csv"))).isSymbolicLink()).toBe(true);
  });
});

describe("a per-file .gz that inflates past the manifest size (item 4)", () => {
  const BOMB = 512 * 1024 * 1024;
  let bomb: Buffer | undefined;
  const getBomb = async () => (bomb ??= await gzipBomb(join(tempDir(), "bomb.gz"), BOMB));

  for (const format of FORMATS) {
    test(`${format}: stops at the manifest's 6 bytes and fails`, { timeout: 60_000 }, async () => {
      const root = tempDir();
      const gz = await getBomb();
      // The manifest says "hello\n"; the stored .gz inflates to 512 MiB of zeros.
      const built = build([{ path: "runs/a/model.ckpt", data: "hello\n", gzip: gz }]);
      const path = await writeArchive(root, "bomb", format, built.items);
      const to = join(root, "to");
      const { value: r, peak } = await peakDuring(to, () => archive({ restore: path, to }, { cwd: root }));
      expect(r.code).toBe(1);
      expect(peak).toBeLessThan(4 * 1024 * 1024);
      expect(failures(r.records)).toEqual([expect.objectContaining({ path: "runs/a/model.ckpt", problem: "size_mismatch" })]);
      expect(r.stderr).toMatch(/runs\/a\/model\.ckpt.*more than the 6 bytes/);
      expect(existsSync(to)).toBe(false);
    });
  }

  test("an uncompressed entry far longer than the manifest says (a sparse 1 GiB file) is stopped too", async () => {
    const root = tempDir();
    const built = build([{ path: "a.txt", data: "xxx" }]);
    const path = await writeArchive(root, "long", "dir", built.items);
    truncateSync(join(path, "a.txt"), 1024 ** 3); // no disk used by the archive, 1 GiB to read
    const to = join(root, "to");
    const { value: r, peak } = await peakDuring(to, () => archive({ restore: path, to }, { cwd: root }));
    expect(r.code).toBe(1);
    expect(peak).toBeLessThan(4 * 1024 * 1024);
    expect(failures(r.records)).toEqual([expect.objectContaining({ path: "a.txt", problem: "size_mismatch" })]);
  });
});

/** Runs `fn` while sampling the bytes in files under `dir` every few ms; returns its value and the peak seen. */
async function peakDuring<T>(dir: string, fn: () => Promise<T>): Promise<{ value: T; peak: number }> {
  let peak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, await usage(dir));
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  try {
    return { value: await fn(), peak };
  } finally {
    sampling = false;
    await sampler;
  }
}

async function usage(dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isFile()) continue;
    total += (await lstat(join(e.parentPath, e.name)).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

describe("a failed restore leaves --to as it was (item 6)", () => {
  for (const format of ["tar.gz", "tar.zst"] as const) {
    for (const at of [0.3, 0.6, 0.95]) {
      test(`${format} truncated at ${at * 100}%: clear error, no spool or temporary files`, async () => {
        const root = tempDir();
        const { input } = makeSweep(root);
        const packed = await archive({ now: NOW, format }, { cwd: root, input });
        const path = String(packed.records.at(-1)!.archive);
        truncateSync(path, Math.floor(statSync(path).size * at));
        const fresh = join(root, "fresh");
        const r1 = await archive({ restore: path, to: fresh }, { cwd: root });
        expect(r1.code).toBe(1);
        expect(existsSync(fresh)).toBe(false);
        expect(r1.stderr).toContain(path);
        expect(r1.stderr).not.toMatch(/ENOTEMPTY|internal stall/);

        const used = join(root, "used");
        mkdirSync(join(used, "runs"), { recursive: true });
        writeFileSync(join(used, "keep.txt"), "keep");
        const before = await snapshot(used);
        const r2 = await archive({ restore: path, to: used, force: true }, { cwd: root });
        expect(r2.code).toBe(1);
        expect(await snapshot(used)).toEqual(before);
      });
    }
  }

  test("a bad mtime in the manifest: refused before anything is written, no *.sp-restore-* left", async () => {
    const root = tempDir();
    for (const [i, mtime] of [1e20, Number.MAX_SAFE_INTEGER, -1e17].entries()) {
      const built = build([{ path: "a/ok.txt", data: "ok\n" }, { path: "a/bad.txt", data: "bad\n", entry: { mtime_ms: mtime } }]);
      const path = await writeArchive(root, `mtime${i}`, "dir", built.items);
      const to = join(root, `to${i}`);
      const r = await archive({ restore: path, to }, { cwd: root });
      expect(r.code).toBe(1);
      expect(failures(r.records)).toEqual([expect.objectContaining({ path: "a/bad.txt", problem: "manifest" })]);
      expect(r.stderr).toMatch(/a\/bad\.txt.*mtime/);
      expect(existsSync(to)).toBe(false);
    }
  });

  test("one bad file among good ones: none of them is written, the good ones say not_restored", async () => {
    const root = tempDir();
    const built = build([
      { path: "a/one.txt", data: "one\n" },
      { path: "b/two.txt", data: "two\n", entry: { sha256: sha("something else") } },
      { path: "c/three.txt", data: "three\n" },
    ]);
    for (const format of FORMATS) {
      const path = await writeArchive(root, `mixed-${format}`, format, built.items);
      const to = join(root, `to-${format}`);
      mkdirSync(to);
      writeFileSync(join(to, "mine"), "x");
      const r = await archive({ restore: path, to }, { cwd: root });
      expect(r.code).toBe(1);
      expect(failures(r.records)).toEqual([expect.objectContaining({ path: "b/two.txt", problem: "sha256_mismatch" })]);
      expect(r.records.filter((x) => x.problem === "not_restored").map((x) => x.path)).toEqual(["a/one.txt", "c/three.txt"]);
      expect(await snapshot(to)).toEqual(["mine 1 644"]);
      expect(r.stderr).toMatch(/nothing restored/);
    }
  });

  test("--force over existing files: a failed restore puts the old files back", async () => {
    const root = tempDir();
    const built = build([{ path: "a.txt", data: "new a\n" }, { path: "z/b.txt", data: "new b\n", entry: { size: 99 } }]);
    const path = await writeArchive(root, "f", "dir", built.items);
    const to = join(root, "to");
    mkdirSync(to);
    writeFileSync(join(to, "a.txt"), "old a");
    const before = await snapshot(to);
    const r = await archive({ restore: path, to, force: true }, { cwd: root });
    expect(r.code).toBe(1);
    expect(await snapshot(to)).toEqual(before);
    expect(readFileSync(join(to, "a.txt"), "utf8")).toBe("old a");
  });
});

describe("restored modes (item 7)", () => {
  const saved = process.umask();
  afterEach(() => {
    process.umask(saved);
  });

  for (const format of FORMATS) {
    test(`${format}: manifest modes masked by the umask, never wider than the original`, async () => {
      const root = tempDir();
      const built = build([
        { path: "open.sh", data: "#!/bin/sh\n", entry: { mode: 0o777 } },
        { path: "setuid", data: "s", entry: { mode: 0o4755 } },
        { path: "private.key", data: "k", entry: { mode: 0o600 } },
        { path: "readonly.txt", data: "r", entry: { mode: 0o444 } },
        { path: "nomode.txt", data: "n", entry: { mode: undefined } },
      ]);
      const path = await writeArchive(root, "modes", format, built.items);
      process.umask(0o077);
      const to = join(root, "u077");
      expect((await archive({ restore: path, to }, { cwd: root })).code).toBe(0);
      const mode = (p: string, dir = to) => statSync(join(dir, p)).mode & 0o7777;
      expect(mode("open.sh")).toBe(0o700);
      expect(mode("setuid")).toBe(0o700);
      expect(mode("private.key")).toBe(0o600);
      expect(mode("readonly.txt")).toBe(0o400);
      expect(mode("nomode.txt")).toBe(0o600);
      expect(statSync(to).mode & 0o077).toBe(0);

      process.umask(0o022);
      const to2 = join(root, "u022");
      expect((await archive({ restore: path, to: to2 }, { cwd: root })).code).toBe(0);
      expect(mode("open.sh", to2)).toBe(0o755);
      expect(mode("setuid", to2)).toBe(0o755);
      expect(mode("private.key", to2)).toBe(0o600);
      expect(mode("readonly.txt", to2)).toBe(0o444);
      expect(mode("nomode.txt", to2)).toBe(0o644);
    });
  }
});
