import { existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, test } from "vitest";
import { archive, cleanup, sha, tempDir } from "./helpers.ts";
import { FORMATS, type TarItem, build, compress, snapshot, tarBytes, writeArchive } from "./hostile.ts";

afterAll(cleanup);

const bad = (records: Record<string, unknown>[]) => records.filter((r) => r.kind === "archive-verify" && r.ok === false);
const FILES = [
  { path: "runs/a/metrics.csv", data: "step,loss\n1,0.5\n" },
  { path: "runs/a/model.ckpt", data: "weights".repeat(100), gzip: true },
];

/** A clean tarball with `extra` tar entries inserted before MANIFEST/SHA256SUMS. */
async function tarball(root: string, name: string, format: "tar.gz" | "tar.zst", extra: TarItem[], at = -2): Promise<string> {
  const items = build(FILES).items;
  items.splice(at, 0, ...extra);
  const path = join(root, `${name}.${format}`);
  writeFileSync(path, await compress(tarBytes(items), format));
  return path;
}

describe("--verify refuses entries that are not regular files (item 5)", () => {
  const SPECIAL: [string, TarItem][] = [
    ["a symlink shadowing a verified file", { path: "runs/a/metrics.csv", type: "SymbolicLink", linkpath: "/etc/passwd" }],
    ["a symlink", { path: "runs/a/latest", type: "SymbolicLink", linkpath: "../../../../etc" }],
    ["a hardlink", { path: "runs/a/hard", type: "Link", linkpath: "/etc/shadow" }],
    ["a hardlink shadowing a verified file", { path: "runs/a/model.ckpt.gz", type: "Link", linkpath: "runs/a/metrics.csv" }],
    ["a character device", { path: "runs/a/tty", type: "CharacterDevice" }],
    ["a block device", { path: "runs/a/sda", type: "BlockDevice" }],
    ["a FIFO", { path: "runs/a/pipe", type: "FIFO" }],
  ];
  for (const format of ["tar.gz", "tar.zst"] as const) {
    test.each(SPECIAL)(`${format}: %s`, async (_what, item) => {
      const root = tempDir();
      const path = await tarball(root, "special", format, [item]);
      const v = await archive({ verify: path }, { cwd: root });
      expect(v.code).toBe(1);
      expect(bad(v.records)).toContainEqual(expect.objectContaining({ path: item.path, problem: "special" }));
      expect(v.stderr).toContain(item.path);
      // Restore refuses the same archive and writes nothing.
      const to = join(root, "to");
      const r = await archive({ restore: path, to }, { cwd: root });
      expect(r.code).toBe(1);
      expect(existsSync(to)).toBe(false);
    });
  }

  test("dir: a symlink, a FIFO and a link to a directory inside the archive", async () => {
    const root = tempDir();
    const path = await writeArchive(root, "d", "dir", build(FILES).items);
    expect((await archive({ verify: path }, { cwd: root })).code).toBe(0);
    writeFileSync(join(root, "secret"), "secret");
    symlinkSync(join(root, "secret"), join(path, "runs/a/leak"));
    symlinkSync("/etc", join(path, "runs/etc"));
    await execa("mkfifo", [join(path, "runs/a/pipe")]);
    const v = await archive({ verify: path }, { cwd: root });
    expect(v.code).toBe(1);
    const problems = bad(v.records).map((r) => `${r.path} ${r.problem}`);
    expect(problems).toEqual(expect.arrayContaining(["runs/a/leak special", "runs/etc special", "runs/a/pipe special"]));
    const to = join(root, "to");
    expect((await archive({ restore: path, to }, { cwd: root })).code).toBe(1);
    expect(existsSync(to)).toBe(false);
  });

  test("dir: a stored file replaced by a symlink to a file with the right bytes", async () => {
    const root = tempDir();
    const path = await writeArchive(root, "d", "dir", build(FILES).items);
    const copy = join(root, "copy.csv");
    writeFileSync(copy, readFileSync(join(path, "runs/a/metrics.csv")));
    rmSync(join(path, "runs/a/metrics.csv"));
    symlinkSync(copy, join(path, "runs/a/metrics.csv"));
    const v = await archive({ verify: path }, { cwd: root });
    expect(v.code).toBe(1);
    expect(bad(v.records)).toContainEqual(expect.objectContaining({ path: "runs/a/metrics.csv", problem: "special" }));
  });
});

describe("--verify refuses what restore refuses (item 5)", () => {
  const UNSAFE = ["../escape.txt", "/tmp/absolute.txt", "runs/../../x", "runs/./x", "runs//x"];
  for (const format of FORMATS) {
    test.each(UNSAFE)(`${format}: a manifest path %j`, async (unsafe) => {
      const root = tempDir();
      // The stored bytes sit at a harmless name; only the manifest path climbs out.
      const built = build([...FILES, { path: "runs/a/x.txt", data: "x\n", entry: { path: unsafe, stored_as: "runs/a/x.txt" } }]);
      const path = await writeArchive(root, "unsafe", format, built.items);
      const v = await archive({ verify: path }, { cwd: root });
      expect(v.code).toBe(1);
      expect(bad(v.records)).toContainEqual(expect.objectContaining({ path: unsafe, problem: "unsafe_path" }));
      const to = join(root, "deep", "to");
      const r = await archive({ restore: path, to }, { cwd: root });
      expect(r.code).toBe(1);
      expect(r.records).toContainEqual(expect.objectContaining({ path: unsafe, problem: "unsafe_path" }));
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(await snapshot(root)).not.toContain("escape.txt");
      expect(existsSync(join(root, "deep"))).toBe(false);
    });
  }

  for (const format of ["tar.gz", "tar.zst"] as const) {
    test.each(["../../escape.txt", "/tmp/sp-absolute-entry.txt"])(`${format}: a tar entry named %j`, async (name) => {
      const root = tempDir();
      const path = await tarball(root, "entry", format, [{ path: name, body: "evil" }], 0);
      const v = await archive({ verify: path }, { cwd: root });
      expect(v.code).toBe(1);
      expect(bad(v.records)).toContainEqual(expect.objectContaining({ path: name, problem: "unsafe_path" }));
      const to = join(root, "to");
      const r = await archive({ restore: path, to }, { cwd: root });
      expect(r.code).toBe(1);
      expect(existsSync(to)).toBe(false);
    });

    test(`${format}: the same name twice (the later one would win on extraction)`, async () => {
      const root = tempDir();
      const path = await tarball(root, "dup", format, [{ path: "runs/a/metrics.csv", body: "evil" }], 0);
      const v = await archive({ verify: path }, { cwd: root });
      expect(v.code).toBe(1);
      expect(bad(v.records)).toContainEqual(expect.objectContaining({ path: "runs/a/metrics.csv", problem: "duplicate" }));
      expect((await archive({ restore: path, to: join(root, "to") }, { cwd: root })).code).toBe(1);
    });
  }

  test("two manifest entries restoring to one path, and a file where a directory must go", async () => {
    const root = tempDir();
    for (const [name, specs] of [
      ["twice", [{ path: "a.txt", data: "1" }, { path: "b.txt", data: "2", entry: { path: "a.txt" } }]],
      ["file-and-dir", [{ path: "a", data: "1", entry: { stored_as: "a-bytes" } }, { path: "a/b.txt", data: "2" }]],
      ["reserved", [{ path: "runs/x", data: "1", entry: { stored_as: "MANIFEST.ndjson" } }]],
      ["bad-mode", [{ path: "a.txt", data: "1", entry: { mode: 0o170777 } }]],
      ["bad-compression", [{ path: "a.txt", data: "1", entry: { compressed: "zstd" } }]],
      ["bad-base", [{ path: "a.txt", data: "1", entry: { unchanged_from: "../other" } }]],
    ] as const) {
      const path = await writeArchive(root, name, "dir", build(specs as never).items);
      const v = await archive({ verify: path }, { cwd: root });
      expect(v.code, name).toBe(1);
      const to = join(root, `to-${name}`);
      const r = await archive({ restore: path, to }, { cwd: root });
      expect(r.code, name).toBe(1);
      expect(existsSync(to), name).toBe(false);
    }
  });
});

describe("damaged tarballs", () => {
  for (const format of ["tar.gz", "tar.zst"] as const) {
    test(`${format} cut off inside a big entry, with small entries still queued: names the entry, no crash`, async () => {
      const root = tempDir();
      const big = Buffer.from(Array.from({ length: 300_000 }, () => 97 + Math.floor(Math.random() * 26)));
      const path = await writeArchive(root, "cut", format, build([...FILES, { path: "runs/a/big.bin", data: big }]).items);
      truncateSync(path, Math.floor(statSync(path).size / 2));
      const v = await archive({ verify: path }, { cwd: root });
      expect(v.code).toBe(1);
      expect(bad(v.records)).toEqual([expect.objectContaining({ path: "runs/a/big.bin", problem: "corrupt" })]);
      const to = join(root, "to");
      const r = await archive({ restore: path, to }, { cwd: root });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("runs/a/big.bin");
      expect(existsSync(to)).toBe(false);
    });
  }
});

describe("--verify checks SHA256SUMS (item 5)", () => {
  const tamper: [string, (sums: string) => string][] = [
    ["a changed hash", (s) => s.replace(/^[0-9a-f]/, (c) => (c === "0" ? "1" : "0"))],
    ["a missing line", (s) => s.split("\n").slice(1).join("\n")],
    ["an extra line", (s) => `${s}${sha("x")}  runs/a/other.txt\n`],
    ["garbage", (s) => `${s}not a checksum line\n`],
    ["empty", () => ""],
  ];
  for (const format of FORMATS) {
    test.each(tamper)(`${format}: %s`, async (_what, edit) => {
      const root = tempDir();
      const path = await writeArchive(root, "sums", format, build(FILES, { sums: edit }).items);
      const v = await archive({ verify: path }, { cwd: root });
      expect(v.code).toBe(1);
      expect(bad(v.records)).toContainEqual(expect.objectContaining({ path: "SHA256SUMS", problem: "sums" }));
      expect(v.stderr).toContain("SHA256SUMS");
    });
  }

  test("a missing SHA256SUMS", async () => {
    const root = tempDir();
    const path = await writeArchive(root, "nosums", "dir", build(FILES).items);
    rmSync(join(path, "SHA256SUMS"));
    const v = await archive({ verify: path }, { cwd: root });
    expect(v.code).toBe(1);
    expect(bad(v.records)).toContainEqual(expect.objectContaining({ path: "SHA256SUMS", problem: "missing" }));
  });

  test("sha256sum's binary marker (' *') is accepted", async () => {
    const root = tempDir();
    const path = await writeArchive(root, "star", "dir", build(FILES, { sums: (s) => s.replaceAll("  ", " *") }).items);
    expect((await archive({ verify: path }, { cwd: root })).code).toBe(0);
  });

  test("a clean hand-built archive verifies (the corpus above fails for its one defect only)", async () => {
    const root = tempDir();
    for (const format of FORMATS) {
      const path = await writeArchive(root, `clean-${format}`, format, build(FILES).items);
      const v = await archive({ verify: path }, { cwd: root });
      expect(v.stderr).not.toMatch(/error/);
      expect(v.code).toBe(0);
      const to = join(root, `to-${format}`);
      mkdirSync(to);
      expect((await archive({ restore: path, to }, { cwd: root })).code).toBe(0);
      expect(readFileSync(join(to, "runs/a/model.ckpt"), "utf8")).toBe("weights".repeat(100));
    }
  });
});
