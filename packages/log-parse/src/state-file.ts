import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { rename, unlink, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Blobs, Json } from "./snapshot.ts";

/**
 * A `--state` scan file (incremental.ts) on disk: a JSON header (the chain's positions and
 * snapshots) and a binary part holding the snapshots' typed arrays (a series' values and steps)
 * as raw bytes:
 *
 *   MAGIC (8 bytes) | header length (uint32 LE) | header (UTF-8 JSON) | part 0 | part 1 | ...
 *
 * The header lists the parts' lengths (`parts`). Kept as base64 inside the JSON (state version 3)
 * these arrays were most of the file, and encoding and decoding the text was a fifth of a cron
 * tick's time (bench 8); as bytes they are copied, never converted.
 */
const MAGIC = Buffer.from("SPLPST4\n", "latin1");
/** A header longer than this is not one this code wrote (a state file is kilobytes to a few MB). */
const MAX_HEADER = 256 * 2 ** 20;

/**
 * The typed arrays' bytes of one state file, each distinct content once: the logs of a chain
 * share one analyzer, so the stderr log's snapshot holds the same arrays as the stdout one's.
 */
export class BlobTable implements Blobs {
  readonly parts: Buffer[] = [];
  private readonly byKey = new Map<string, number[]>();

  add(bytes: Buffer): number {
    // The key narrows the comparison to parts of the same length and ends; equals() decides.
    const key = `${bytes.length}:${bytes.toString("latin1", 0, 8)}:${bytes.toString("latin1", Math.max(0, bytes.length - 8))}`;
    const same = this.byKey.get(key);
    if (same) for (const i of same) if (this.parts[i]!.equals(bytes)) return i;
    const i = this.parts.length;
    // A copy: the array it came from goes on growing while the file waits to be written.
    this.parts.push(Buffer.from(bytes));
    if (same) same.push(i);
    else this.byKey.set(key, [i]);
    return i;
  }
}

/** The file's bytes: `header` as JSON (with the parts' lengths added) and the parts after it. */
export function encodeStateFile(header: object, parts: readonly Buffer[]): Buffer {
  const json = Buffer.from(JSON.stringify({ ...header, parts: parts.map((p) => p.length) }), "utf8");
  const length = Buffer.allocUnsafe(4);
  length.writeUInt32LE(json.length, 0);
  return Buffer.concat([MAGIC, length, json, ...parts]);
}

/**
 * The header and the parts (views into `file`, not copies) of a state file; undefined when `file`
 * is not one (a state file of an earlier version, JSON text); throws when it is one but damaged.
 */
export function decodeStateFile(file: Buffer): { header: Record<string, unknown>; parts: Buffer[] } | undefined {
  if (file.length < MAGIC.length || !file.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  if (file.length < MAGIC.length + 4) throw new Error("truncated (no header length)");
  const length = file.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4;
  if (length > MAX_HEADER || start + length > file.length) throw new Error("truncated (header)");
  const header = JSON.parse(file.toString("utf8", start, start + length)) as unknown;
  if (typeof header !== "object" || header === null || Array.isArray(header)) throw new Error("the header is not an object");
  const lengths = (header as { parts?: unknown }).parts;
  if (!Array.isArray(lengths) || !lengths.every((n) => Number.isInteger(n) && n >= 0)) throw new Error("the header lists no parts");
  const parts: Buffer[] = [];
  let at = start + length;
  for (const n of lengths as number[]) {
    if (at + n > file.length) throw new Error("truncated (binary part)");
    parts.push(file.subarray(at, at + n));
    at += n;
  }
  if (at !== file.length) throw new Error("bytes after the last binary part");
  return { header: header as Record<string, unknown>, parts };
}

/**
 * `snap` (snapshot.ts data whose typed arrays refer to `parts` by number) with its arrays' parts
 * added to `blobs` and referred to by their numbers there: a snapshot kept from the state file
 * read (nothing was appended to its log) is written into a new file beside fresh ones.
 */
export function rebase(snap: Json, parts: readonly Uint8Array[], blobs: Blobs): Json {
  if (snap === null || typeof snap !== "object") return snap;
  if (Array.isArray(snap)) return snap.map((x) => rebase(x, parts, blobs));
  const out: { [k: string]: Json } = {};
  const typed = "$t" in snap;
  for (const [k, v] of Object.entries(snap)) {
    if (typed && (k === "zx" || k === "bx")) {
      const part = typeof v === "number" ? parts[v] : undefined;
      if (!part) throw new Error(`snapshot: no binary part ${String(v)}`);
      out[k] = blobs.add(Buffer.from(part.buffer, part.byteOffset, part.byteLength));
    } else out[k] = rebase(v, parts, blobs);
  }
  return out;
}

/** State files written at once (each holds its encoded bytes, tens of KiB, until written). */
const WRITES_AT_ONCE = 32;

/**
 * Writes state files in the background: a record's report does not wait for its state file, and
 * the writes (in libuv's thread pool) overlap the next records' parsing; flush() waits for all.
 * Replacing a file is metadata work (on ext4 a rename over a file also flushes its data: ~0.5 ms
 * each, bench 8). Each file is written atomically (a temporary file renamed over it), owner only
 * (snapshots quote log lines); not fsynced: a lost state costs a full read. A failed write is
 * reported through `failed` and never rejects.
 */
export class StateWriter {
  private readonly writing = new Set<Promise<void>>();
  private readonly dirs = new Set<string>();

  constructor(private readonly failed: (file: string, message: string) => void) {}

  /** Queues `bytes` for `file`; waits only while WRITES_AT_ONCE files are still being written. */
  async queue(file: string, bytes: Buffer): Promise<void> {
    const p: Promise<void> = this.write(file, bytes).finally(() => this.writing.delete(p));
    this.writing.add(p);
    while (this.writing.size >= WRITES_AT_ONCE) await Promise.race(this.writing);
  }

  async flush(): Promise<void> {
    while (this.writing.size > 0) await Promise.all([...this.writing]);
  }

  private async write(file: string, bytes: Buffer): Promise<void> {
    const dir = dirname(file);
    // Once per directory and run, not once per file.
    if (!this.dirs.has(dir)) {
      this.dirs.add(dir);
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
      } catch {} // the write below says why
    }
    const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
    try {
      await writeFile(tmp, bytes, { mode: 0o600 });
      await rename(tmp, file);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      this.failed(file, (e as Error).message);
    }
  }
}
