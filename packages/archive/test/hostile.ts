// Builders for hostile archives: raw tar blocks (any entry type, any name, sizes that lie),
// manifests and SHA256SUMS written by hand, gzip bombs. Nothing here goes through `pack`, so a
// test can say exactly what is wrong with an archive.
import { once } from "node:events";
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { Header } from "tar";
import { createGzip, gzipSync } from "node:zlib";
import { sha } from "./helpers.ts";

export interface TarItem {
  path: string;
  type?: "File" | "Directory" | "SymbolicLink" | "Link" | "CharacterDevice" | "BlockDevice" | "FIFO";
  body?: Buffer | string;
  linkpath?: string;
  mode?: number;
}

/** A tar stream of exactly these entries, in this order (no checks, no normalisation). */
export function tarBytes(items: TarItem[], options: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const item of items) {
    const body = Buffer.from(item.body ?? "");
    const type = item.type ?? "File";
    const block = Buffer.alloc(512);
    const header = new Header({
      path: item.path,
      type,
      mode: item.mode ?? (type === "Directory" ? 0o755 : 0o644),
      size: type === "File" ? body.length : 0,
      mtime: new Date("2025-01-01T00:00:00Z"),
      uid: 0,
      gid: 0,
      ...(item.linkpath !== undefined ? { linkpath: item.linkpath } : {}),
    });
    header.encode(block, 0);
    parts.push(block);
    if (type === "File" && body.length > 0) parts.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  if (options.end !== false) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export type Format = "dir" | "tar.gz" | "tar.zst";
export const FORMATS: Format[] = ["dir", "tar.gz", "tar.zst"];

/** One file of a hand-made archive: its manifest entry is derived, then `entry` overrides fields. */
export interface FileSpec {
  path: string;
  data: Buffer | string;
  /** Store as `<path>.gz` (or these exact stored bytes, for a bomb). */
  gzip?: boolean | Buffer;
  entry?: Record<string, unknown>;
}

export interface Built {
  entries: Record<string, unknown>[];
  /** The stored files, MANIFEST and SHA256SUMS last (as pack writes them). */
  items: TarItem[];
}

export function build(files: FileSpec[], options: { sums?: (text: string) => string } = {}): Built {
  const entries: Record<string, unknown>[] = [];
  const items: TarItem[] = [];
  let sums = "";
  for (const f of files) {
    const data = Buffer.from(f.data);
    const stored = f.gzip === undefined || f.gzip === false ? data : f.gzip === true ? gzipSync(data) : f.gzip;
    const compressed = f.gzip !== undefined && f.gzip !== false;
    const e: Record<string, unknown> = {
      kind: "archive-entry",
      v: 1,
      path: f.path,
      size: data.length,
      sha256: sha(data),
      role: "other",
      mtime_ms: Date.parse("2025-01-01T00:00:00Z"),
      mode: 0o644,
      ...(compressed ? { compressed: "gzip", stored_as: `${f.path}.gz`, stored_size: stored.length, stored_sha256: sha(stored) } : {}),
      ...f.entry,
    };
    entries.push(e);
    const storedAs = String(e.stored_as ?? e.path);
    items.push({ path: storedAs, body: stored });
    sums += `${String(e.stored_sha256 ?? e.sha256)}  ${storedAs}\n`;
  }
  items.push({ path: "SHA256SUMS", body: options.sums ? options.sums(sums) : sums });
  items.push({ path: "MANIFEST.ndjson", body: entries.map((e) => `${JSON.stringify(e)}\n`).join("") });
  return { entries, items };
}

/** Writes `items` as a directory archive (regular files only) or a tarball; returns its path. */
export async function writeArchive(root: string, name: string, format: Format, items: TarItem[]): Promise<string> {
  if (format === "dir") {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    for (const i of items) {
      mkdirSync(dirname(join(dir, i.path)), { recursive: true });
      writeFileSync(join(dir, i.path), Buffer.from(i.body ?? ""));
    }
    return dir;
  }
  const path = join(root, `${name}.${format}`);
  writeFileSync(path, await compress(tarBytes(items), format));
  return path;
}

export async function compress(tar: Buffer, format: "tar.gz" | "tar.zst"): Promise<Buffer> {
  if (format === "tar.gz") return gzipSync(tar);
  const { stdout } = await execa("zstd", ["-q", "-c", "-3"], { input: tar, encoding: "buffer", stripFinalNewline: false });
  return Buffer.from(stdout);
}

/** gzip of `bytes` zero bytes, streamed (never holds the inflated data): the classic bomb. */
export async function gzipBomb(path: string, bytes: number): Promise<Buffer> {
  const gz = createGzip({ level: 9 });
  const out = createWriteStream(path);
  gz.pipe(out);
  const block = Buffer.alloc(1024 * 1024);
  for (let left = bytes; left > 0; left -= block.length) {
    if (!gz.write(left >= block.length ? block : block.subarray(0, left))) await once(gz, "drain");
  }
  gz.end();
  await once(out, "close");
  return readFileSync(path);
}

/** Every path under `dir` (relative, sorted) with its type and size: "what is there" for before/after. */
export async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    const abs = rel ? join(dir, rel) : dir;
    const st = await lstat(abs).catch(() => undefined);
    if (!st) return;
    if (st.isSymbolicLink()) out.push(`${rel} -> ${await readlink(abs)}`);
    else if (st.isDirectory()) {
      if (rel) out.push(`${rel}/`);
      for (const n of (await readdir(abs)).sort()) await walk(rel ? `${rel}/${n}` : n);
    } else out.push(`${rel} ${st.size} ${(st.mode & 0o7777).toString(8)}`);
  };
  await walk("");
  return out;
}
