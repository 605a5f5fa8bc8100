import { pipeline } from "node:stream/promises";
import { Readable, type Writable } from "node:stream";
import { createGzip } from "node:zlib";
import { readRegular, SCHEMA_VERSION } from "@slurmpipe/core";
import type { Candidate } from "./collect.ts";
import type { PreviousFile } from "./incremental.ts";
import type { ManifestEntry } from "./manifest.ts";
import type { ArchiveSink } from "./sinks.ts";
import { HashSink, HashTap } from "./streams.ts";

export function baseEntry(f: Candidate): ManifestEntry {
  const e: ManifestEntry = { kind: "archive-entry", v: SCHEMA_VERSION, path: f.path, size: f.size, sha256: "0".repeat(64), role: f.role, mtime_ms: f.mtimeMs, mode: f.mode & 0o777, source: f.source };
  if (f.run_id !== undefined) e.run_id = f.run_id;
  if (f.run_name !== undefined) e.run_name = f.run_name;
  if (f.attempt !== undefined) e.attempt = f.attempt;
  if (f.job_id !== undefined) e.job_id = f.job_id;
  return e;
}

/** The source's bytes, opened so that a file swapped for a FIFO or link since it was collected is refused, not read. */
async function openSource(f: Candidate): Promise<Readable> {
  const data = await readRegular(f.readFrom, f.size === 0 ? undefined : { start: 0, end: f.size - 1 });
  if (f.size > 0) return data;
  data.destroy();
  return Readable.from([]);
}

/**
 * Same size and mtime as in the previous archive: trusted unchanged without reading it (that is
 * the point on multi-GB checkpoints). Same size but another mtime (copied, touched): hashed, and
 * unchanged if the content is. Different size: changed. `rehash` hashes even on a size+mtime match.
 */
export async function unchanged(f: Candidate, prev: PreviousFile, rehash: boolean): Promise<boolean> {
  if (prev.entry.size !== f.size) return false;
  if (prev.entry.mtime_ms === f.mtimeMs && !rehash) return true;
  const h = new HashSink();
  await pipeline(await readRegular(f.readFrom), h);
  return h.digest() === prev.entry.sha256;
}

/** Reads the source once: hashes the original bytes and (optionally) gzips and hashes the stored bytes in the same pass. */
export async function storeFile(sink: ArchiveSink, f: Candidate, compress: boolean, level: number, withSource = true, progress?: (bytes: number) => void): Promise<ManifestEntry> {
  const original = new HashTap(progress);
  const stored = new HashTap();
  // Opened before anything goes into the archive: a file that is no longer a regular file is
  // reported and skipped, and the archive stream stays intact.
  const data = await openSource(f);
  const storedAs = compress ? `${f.path}.gz` : f.path;
  try {
    await sink.store(storedAs, { mtimeMs: f.mtimeMs, mode: f.mode, ...(compress ? {} : { size: f.size }) }, (dest: Writable) =>
      compress ? pipeline(data, original, createGzip({ level }), stored, dest) : pipeline(data, original, dest),
    );
  } finally {
    data.destroy();
  }
  if (original.bytes !== f.size) throw new Error(`${f.source}: read ${original.bytes} bytes, expected ${f.size} (file shrank while archiving?)`);
  const e = baseEntry(f);
  if (!withSource) delete e.source;
  e.sha256 = original.digest();
  if (compress) {
    e.compressed = "gzip";
    e.stored_as = storedAs;
    e.stored_size = stored.bytes;
    e.stored_sha256 = stored.digest();
  }
  return e;
}

