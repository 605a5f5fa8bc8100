import { once } from "node:events";
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import fg from "fast-glob";
import { Parser, type ReadEntry } from "tar";
import { destinationFor } from "./layout.ts";
import { MANIFEST, type ParsedManifest, parseManifest } from "./manifest.ts";
import { nativeZstd, zstdDecompressFile } from "./zstd.ts";

export type ArchiveKind = "dir" | "tar";

/** A tarball that could not be read to its end; `entry` is the file being read when it broke. */
export class TarReadError extends Error {
  constructor(
    readonly archive: string,
    readonly entry: string | undefined,
    cause: Error,
  ) {
    super(`${archive}: unreadable${entry ? ` at ${entry}` : ""}: ${cause.message}`);
    this.name = "TarReadError";
  }
}

export async function archiveKind(path: string): Promise<ArchiveKind> {
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new Error(`${path}: no such archive`);
  return st.isDirectory() ? "dir" : "tar";
}

/** Reads MANIFEST.ndjson of a directory archive. */
export async function readDirManifest(dir: string): Promise<ParsedManifest> {
  const path = join(dir, MANIFEST);
  if (!(await stat(path).catch(() => undefined))) return { entries: [], errors: [`${path}: missing`] };
  return parseManifest(createReadStream(path), path);
}

/** Every regular file stored in a directory archive, relative, forward slashes. */
export async function listDirFiles(dir: string): Promise<string[]> {
  return (await fg("**", { cwd: dir, onlyFiles: true, dot: true, followSymbolicLinks: false })).sort();
}

export function openStored(dir: string, path: string): Readable {
  return createReadStream(destinationFor(dir, path));
}

async function isZstd(path: string): Promise<boolean> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(4);
    await fh.read(buf, 0, 4, 0);
    return buf.equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
  } finally {
    await fh.close();
  }
}

/**
 * Streams every file entry of a tarball (.tar, .tar.gz, .tar.zst) through `onFile`, in archive
 * order, in constant memory: node-tar's Parser applies backpressure when an entry is not consumed
 * yet, and we only feed it more once it drains. Entries are handled one at a time. Returns the
 * archive's MANIFEST (captured on the way, it is the last entry).
 */
export async function scanTar(path: string, onFile: (name: string, data: Readable, size: number) => Promise<void>): Promise<ParsedManifest> {
  let manifestText: string | undefined;
  let current: string | undefined;
  let chain: Promise<void> = Promise.resolve();
  let failure: Error | undefined;
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      if (entry.type !== "File" && entry.type !== "OldFile" && entry.type !== "ContiguousFile") {
        entry.resume();
        return;
      }
      const name = entry.path.replace(/^\.\//, "");
      current = name;
      const pt = new PassThrough();
      entry.pipe(pt);
      if (name === MANIFEST) {
        const parts: Buffer[] = [];
        const ended = once(pt, "end");
        pt.on("data", (c: Buffer) => parts.push(c));
        chain = chain.then(async () => {
          await ended;
          manifestText = Buffer.concat(parts).toString("utf8");
        });
        return;
      }
      chain = chain.then(() => onFile(name, pt, entry.size)).catch((e: Error) => {
        failure ??= e;
        pt.resume();
      });
    },
  });
  parser.on("warn", (code: string, message: string) => {
    failure ??= new Error(`${path}: ${code}: ${message}`);
  });
  const parserError = new Promise<never>((_, reject) => parser.on("error", reject));
  parserError.catch(() => {});

  let input: Readable;
  let proc: Promise<unknown> | undefined;
  if (!nativeZstd && (await isZstd(path))) ({ stream: input, proc } = zstdDecompressFile(path));
  else input = createReadStream(path);

  const ended = new Promise<void>((resolve) => parser.on("end", () => resolve()));
  const feed = async () => {
    for await (const chunk of input) {
      if (!parser.write(chunk as Buffer)) await once(parser, "drain");
    }
    parser.end();
    await ended;
  };
  try {
    await Promise.race([Promise.all([feed(), proc]), parserError]);
    await chain;
    if (failure) throw failure;
  } catch (e) {
    input.destroy();
    throw e instanceof TarReadError ? e : new TarReadError(path, current, e as Error);
  }
  if (manifestText === undefined) return { entries: [], errors: [`${path}: no ${MANIFEST} inside`] };
  return parseManifest(Readable.from([manifestText]), `${path}:${MANIFEST}`);
}
