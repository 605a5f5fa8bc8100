import { createHash } from "node:crypto";
import { once } from "node:events";
import { createWriteStream, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, statSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGzip, gzipSync } from "node:zlib";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { cliPath, records, runCli } from "../support/cli.ts";

/**
 * A corpus of hostile archives, built byte by byte (raw ustar headers, hand-written MANIFEST and
 * SHA256SUMS, a gzip bomb) and driven through the built `archive` command: --verify and --restore
 * each exit 1 with an error naming the entry, and a restore writes nothing, neither outside --to
 * nor in it.
 */

const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
const MTIME = Date.parse("2025-01-01T00:00:00Z");

/** One raw ustar header block. Types: 0 file, 1 hard link, 2 symlink, 3 char dev, 4 block dev, 5 dir, 6 FIFO. */
function header(name: string, o: { type?: string; size?: number; link?: string; mode?: number } = {}): Buffer {
  const b = Buffer.alloc(512);
  const octal = (off: number, len: number, n: number) => b.write(`${n.toString(8).padStart(len - 1, "0")}\0`, off, len, "ascii");
  b.write(name, 0, 100, "utf8");
  octal(100, 8, o.mode ?? 0o644);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, o.size ?? 0);
  octal(136, 12, Math.floor(MTIME / 1000));
  b.fill(" ", 148, 156);
  b.write(o.type ?? "0", 156, 1, "ascii");
  b.write(o.link ?? "", 157, 100, "utf8");
  b.write("ustar\0", 257, 6, "ascii");
  b.write("00", 263, 2, "ascii");
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii");
  return b;
}

interface Item {
  name: string;
  body?: Buffer | string;
  type?: string;
  link?: string;
}

function tar(items: Item[]): Buffer {
  const parts: Buffer[] = [];
  for (const i of items) {
    const body = Buffer.from(i.body ?? "");
    const type = i.type ?? "0";
    parts.push(header(i.name, { type, size: type === "0" ? body.length : 0, ...(i.link ? { link: i.link } : {}) }));
    if (type === "0") parts.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

interface Spec {
  path: string;
  data: string;
  /** Stored as <path>.gz with these bytes (or gzip of data when true). */
  gz?: Buffer | true;
  entry?: Record<string, unknown>;
}

/** Stored files, then SHA256SUMS and MANIFEST.ndjson (last, as `archive` writes them). */
function contents(specs: Spec[], editSums: (s: string) => string = (s) => s): Item[] {
  const items: Item[] = [];
  const manifest: string[] = [];
  let sums = "";
  for (const s of specs) {
    const stored = s.gz === undefined ? Buffer.from(s.data) : s.gz === true ? gzipSync(s.data) : s.gz;
    const e: Record<string, unknown> = {
      kind: "archive-entry",
      path: s.path,
      size: Buffer.byteLength(s.data),
      sha256: sha(s.data),
      mtime_ms: MTIME,
      mode: 0o644,
      ...(s.gz !== undefined ? { compressed: "gzip", stored_as: `${s.path}.gz`, stored_size: stored.length, stored_sha256: sha(stored) } : {}),
      ...s.entry,
    };
    const at = String(e.stored_as ?? e.path);
    items.push({ name: at, body: stored });
    sums += `${String(e.stored_sha256 ?? e.sha256)}  ${at}\n`;
    manifest.push(JSON.stringify(e));
  }
  items.push({ name: "SHA256SUMS", body: editSums(sums) }, { name: "MANIFEST.ndjson", body: `${manifest.join("\n")}\n` });
  return items;
}

type Format = "dir" | "tar.gz" | "tar.zst";

async function write(root: string, format: Format, items: Item[]): Promise<string> {
  if (format === "dir") {
    const dir = join(root, "archive");
    for (const i of items) {
      const p = join(dir, i.name);
      mkdirSync(join(p, ".."), { recursive: true });
      if ((i.type ?? "0") === "2") symlinkSync(i.link!, p);
      else if (i.type === "6") await execa("mkfifo", [p]);
      else writeFileSync(p, Buffer.from(i.body ?? ""));
    }
    return dir;
  }
  mkdirSync(root, { recursive: true });
  const path = join(root, `archive.${format}`);
  const raw = tar(items);
  writeFileSync(path, format === "tar.gz" ? gzipSync(raw) : Buffer.from((await execa("zstd", ["-q", "-c"], { input: raw, encoding: "buffer" })).stdout));
  return path;
}

async function bomb(root: string, bytes: number): Promise<Buffer> {
  const path = join(root, "bomb.gz");
  const gz = createGzip({ level: 9 });
  const out = createWriteStream(path);
  gz.pipe(out);
  const zeros = Buffer.alloc(1 << 20);
  for (let left = bytes; left > 0; left -= zeros.length) if (!gz.write(zeros)) await once(gz, "drain");
  gz.end();
  await once(out, "close");
  return readFileSync(path);
}

/** Everything under `dir`: type, size, link target. Compared before and after to prove nothing changed. */
function snapshot(dir: string, skip?: string): string[] {
  const out: string[] = [];
  const walk = (p: string, rel: string) => {
    if (p === skip) return;
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isSymbolicLink()) out.push(`${rel} -> ${readlinkSync(p)}`);
    else if (st.isDirectory()) for (const n of readdirSync(p).sort()) walk(join(p, n), `${rel}/${n}`);
    else out.push(`${rel} ${st.size} ${st.mtimeMs}`);
  };
  walk(dir, "");
  return out;
}

const CLEAN: Spec[] = [
  { path: "runs/a/metrics.csv", data: "step,loss\n1,0.5\n" },
  { path: "runs/a/model.ckpt", data: "weights".repeat(50), gz: true },
];
const ABS = join(tmpdir(), `sp-hostile-abs-${process.pid}.txt`);

interface Case {
  name: string;
  formats: Format[];
  /** The entry the error must name. */
  entry: string;
  build(root: string, format: Format): Promise<string>;
  /** Prepares --to (it exists with this in it) before restoring. */
  prepare?(to: string, root: string): void;
  /** False when the archive itself is clean and the danger is elsewhere (in --to). */
  verify?: false;
  restore?: false;
}

const withExtra = (extra: Item[], first = false) => async (root: string, format: Format) => {
  const items = contents(CLEAN);
  items.splice(first ? 0 : -2, 0, ...extra);
  return write(root, format, items);
};

const CASES: Case[] = [
  { name: "a symlink shadowing a verified file", formats: ["tar.gz", "tar.zst"], entry: "runs/a/metrics.csv", build: withExtra([{ name: "runs/a/metrics.csv", type: "2", link: "/etc/passwd" }]) },
  { name: "a hard link to /etc/shadow", formats: ["tar.gz", "tar.zst"], entry: "runs/a/hard", build: withExtra([{ name: "runs/a/hard", type: "1", link: "/etc/shadow" }]) },
  { name: "a character device", formats: ["tar.gz"], entry: "runs/a/tty", build: withExtra([{ name: "runs/a/tty", type: "3" }]) },
  { name: "a FIFO", formats: ["tar.zst", "dir"], entry: "runs/a/pipe", build: withExtra([{ name: "runs/a/pipe", type: "6" }]) },
  { name: "a symlink out of a directory archive", formats: ["dir"], entry: "runs/a/leak", build: withExtra([{ name: "runs/a/leak", type: "2", link: "/etc/passwd" }]) },
  { name: "a tar entry climbing out with ..", formats: ["tar.gz", "tar.zst"], entry: "../../escape.txt", build: withExtra([{ name: "../../escape.txt", body: "evil" }], true) },
  { name: "the same name twice", formats: ["tar.gz"], entry: "runs/a/metrics.csv", build: withExtra([{ name: "runs/a/metrics.csv", body: "evil" }], true) },
  {
    name: "a manifest path with ..",
    formats: ["dir", "tar.gz", "tar.zst"],
    entry: "../escape.txt",
    build: (root, f) => write(root, f, contents([...CLEAN, { path: "runs/a/x", data: "evil", entry: { path: "../escape.txt", stored_as: "runs/a/x" } }])),
  },
  {
    name: "an absolute manifest path",
    formats: ["dir", "tar.gz"],
    entry: ABS,
    build: (root, f) => write(root, f, contents([...CLEAN, { path: "runs/a/x", data: "evil", entry: { path: ABS, stored_as: "runs/a/x" } }])),
  },
  {
    name: "a per-file .gz inflating to 512 MiB, manifest says 6 bytes",
    formats: ["dir", "tar.gz", "tar.zst"],
    entry: "runs/a/model.ckpt",
    build: async (root, f) => write(root, f, contents([{ path: "runs/a/model.ckpt", data: "hello\n", gz: await bomb(root, 512 * 1024 * 1024) }])),
  },
  {
    name: "a pre-existing r1 -> elsewhere inside --to",
    formats: ["dir", "tar.gz", "tar.zst"],
    entry: "r1/metrics.csv",
    build: (root, f) => write(root, f, contents([{ path: "r1/metrics.csv", data: "step,loss\n" }])),
    verify: false,
    prepare: (to, root) => {
      mkdirSync(join(root, "elsewhere"), { recursive: true });
      symlinkSync(join(root, "elsewhere"), join(to, "r1"));
    },
  },
  {
    name: "a bad mtime",
    formats: ["dir", "tar.gz"],
    entry: "runs/a/metrics.csv",
    build: (root, f) => write(root, f, contents([{ ...CLEAN[0]!, entry: { mtime_ms: 1e20 } }, CLEAN[1]!])),
  },
  {
    name: "a checksum that does not match (one of three files)",
    formats: ["dir", "tar.gz", "tar.zst"],
    entry: "runs/b/metrics.csv",
    build: (root, f) => write(root, f, contents([...CLEAN, { path: "runs/b/metrics.csv", data: "x", entry: { sha256: sha("y") } }])),
  },
  {
    name: "a truncated tarball",
    formats: ["tar.gz", "tar.zst"],
    entry: "runs/a/big.bin",
    build: async (root, f) => {
      const path = await write(root, f, contents([...CLEAN, { path: "runs/a/big.bin", data: "z".repeat(300_000).replace(/z/g, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))) }]));
      truncateSync(path, Math.floor(statSync(path).size / 2));
      return path;
    },
  },
  {
    name: "a tampered SHA256SUMS (verify only: restore never reads it)",
    formats: ["dir", "tar.gz", "tar.zst"],
    entry: "SHA256SUMS",
    build: (root, f) => write(root, f, contents(CLEAN, (s) => s.replace(/^./, (c) => (c === "0" ? "1" : "0")))),
    restore: false,
  },
];

const noStack = (stderr: string) => expect(stderr).not.toMatch(/\n\s+at .*:\d+:\d+/);

describe("hostile archive corpus (archive --verify / --restore)", () => {
  const cases = CASES.flatMap((c) => c.formats.map((f) => [`${c.name} (${f})`, c, f] as const));
  it.each(cases)("%s", async (_label, c, format) => {
    const root = mkdtempSync(join(tmpdir(), "sp-hostile-"));
    const path = await c.build(root, format);

    const v = await runCli("archive", ["--verify", path], { timeout: 60_000 });
    if (c.verify === false) expect(v.exitCode).toBe(0);
    else {
      expect(v.exitCode).toBe(1);
      expect(String(v.stderr)).toContain(c.entry);
      noStack(String(v.stderr));
      expect(records(v.stdout).at(-1)).toMatchObject({ kind: "archive-verify-summary", ok: false });
    }
    if (c.restore === false) return;

    // Into a --to that does not exist yet, then into one that does (and holds a file).
    for (const fresh of [true, false]) {
      if (fresh && c.prepare) continue; // the hostile part is what is already in --to
      const to = join(root, fresh ? "fresh" : "used");
      if (!fresh) {
        mkdirSync(to);
        writeFileSync(join(to, "mine.txt"), "mine");
        c.prepare?.(to, root);
      }
      const outside = snapshot(root, to);
      const inside = snapshot(to);
      const r = await runCli("archive", ["--restore", path, "--to", to, ...(fresh ? [] : ["--force"])], { timeout: 60_000 });
      expect(r.exitCode).toBe(1);
      expect(String(r.stderr)).toContain(c.entry);
      expect(String(r.stderr)).toMatch(/nothing restored/);
      noStack(String(r.stderr));
      expect(snapshot(root, to)).toEqual(outside);
      if (fresh) expect(existsSync(to)).toBe(false);
      else expect(snapshot(to)).toEqual(inside);
      expect(existsSync(join(tmpdir(), "escape.txt"))).toBe(false);
      expect(existsSync(ABS)).toBe(false);
    }
  });

  it("restored modes come from the manifest, masked by the umask (umask 077: no group/other bits)", async () => {
    const root = mkdtempSync(join(tmpdir(), "sp-hostile-umask-"));
    for (const format of ["dir", "tar.gz", "tar.zst"] as const) {
      const path = await write(join(root, format), format, contents([{ path: "run.sh", data: "#!/bin/sh\n", entry: { mode: 0o4777 } }]));
      const to = join(root, `to-${format}`);
      // A shell only to set the umask; the command itself is argv, as everywhere in the tests.
      const r = await execa("sh", ["-c", 'umask 077 && exec node "$@"', "sh", cliPath("archive"), "--restore", path, "--to", to], { reject: false });
      expect(r.exitCode).toBe(0);
      expect(statSync(join(to, "run.sh")).mode & 0o7777).toBe(0o700);
    }
  });
});
