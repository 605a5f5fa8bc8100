import { describeFile, readRegular } from "@slurmpipe/core";
import { once } from "node:events";
import { createReadStream } from "node:fs";
import { open, readdir, readlink, stat } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { Parser, type ReadEntry } from "tar";
import { destinationFor } from "./layout.ts";
import { MANIFEST, type ParsedManifest, parseManifest } from "./manifest.ts";
import { type Refusal, tarNameRefusal, tarTypeRefusal } from "./trust.ts";
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

/** Reads MANIFEST.ndjson of a directory archive; a MANIFEST that is a link, FIFO or device is an error, not read. */
export async function readDirManifest(dir: string): Promise<ParsedManifest> {
  const path = join(dir, MANIFEST);
  let input: Readable;
  try {
    input = await readRegular(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { entries: [], errors: [err.code === "ENOENT" ? `${path}: missing` : err.message] };
  }
  return parseManifest(input, path);
}

/**
 * The regular files of a directory archive (relative, forward slashes, sorted), and everything
 * else found there: symlinks (to files or directories), FIFOs, sockets and devices. Those are
 * refused, never followed or opened: pack never writes them, so one in an archive was put there.
 */
export async function listDirTree(dir: string): Promise<{ files: string[]; refusals: Refusal[] }> {
  const files: string[] = [];
  const refusals: Refusal[] = [];
  const walk = async (rel: string) => {
    const entries = await readdir(rel ? join(dir, rel) : dir, { withFileTypes: true });
    for (const d of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) await walk(path);
      else if (d.isFile()) files.push(path);
      else {
        const target = d.isSymbolicLink() ? await readlink(join(dir, path)).then((t) => ` to ${JSON.stringify(t)}`, () => "") : "";
        refusals.push({ path, problem: "special", message: `${path}: ${describeFile(d)}${target} in a directory archive; archives hold regular files only` });
      }
    }
  };
  await walk("");
  return { files: files.sort(), refusals };
}

export async function openStored(dir: string, path: string): Promise<Readable> {
  return readRegular(destinationFor(dir, path));
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

const REGULAR = new Set(["File", "OldFile", "ContiguousFile"]);

/** What a tarball holds besides its file bytes: its manifest, and what is wrong with its structure. */
export interface TarScan extends ParsedManifest {
  /** Links, devices, FIFOs, unsafe names, names seen twice: never handed to `onFile`. */
  refusals: Refusal[];
  /** Names of the regular files handed to `onFile`, in archive order (MANIFEST excluded). */
  files: string[];
}

/**
 * Streams every regular file entry of a tarball (.tar, .tar.gz, .tar.zst) through `onFile`, in
 * archive order, in constant memory: node-tar's Parser applies backpressure when an entry is not
 * consumed yet, and we only feed it more once it drains. Entries are handled one at a time. Any
 * other entry type, an unsafe name or a second entry of one name is recorded as a refusal and
 * skipped, never handed on. Returns the archive's MANIFEST (the last entry, parsed on the way).
 * On a read error it first lets the consumer of the entry in flight fail and finish, so nothing
 * is still writing when the caller cleans up.
 */
export async function scanTar(path: string, onFile: (name: string, data: Readable, size: number) => Promise<void>): Promise<TarScan> {
  const refusals: Refusal[] = [];
  const files: string[] = [];
  const seen = new Set<string>();
  const pending = new Set<PassThrough>();
  let manifest: ParsedManifest | undefined;
  let current: string | undefined;
  let chain: Promise<void> = Promise.resolve();
  let failure: Error | undefined;
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      const name = entry.path.replace(/^(\.\/)+/, "").replace(/\/+$/, "");
      current = name || entry.path;
      const refuse = (r: Refusal | undefined) => {
        if (r) refusals.push(r);
        entry.resume();
      };
      // Directory entries are harmless (tar -c writes them, pack does not): only the name is checked.
      if (entry.type === "Directory") return refuse(name === "" ? undefined : tarNameRefusal(name));
      if (!REGULAR.has(entry.type)) return refuse(tarTypeRefusal(current, entry.type, entry.linkpath));
      const unsafe = tarNameRefusal(name);
      if (unsafe) return refuse(unsafe);
      if (seen.has(name)) {
        return refuse({ path: name, problem: "duplicate", message: `${name}: in the tarball twice (extracting it, the later copy would replace the one checked)` });
      }
      seen.add(name);
      const pt = new PassThrough();
      // Errors reach the consumer through its own pipeline; this one only keeps an entry that is
      // destroyed before its consumer started (see the catch below) from crashing the process.
      pt.on("error", () => {});
      pending.add(pt);
      entry.pipe(pt);
      chain = chain.then(async () => {
        try {
          if (name === MANIFEST) manifest = await parseManifest(pt, `${path}:${MANIFEST}`);
          else {
            files.push(name);
            await onFile(name, pt, entry.size);
          }
        } catch (e) {
          failure ??= e as Error;
        } finally {
          pending.delete(pt);
          // Whatever the consumer did, the entry is read to its end, or the parser would stall.
          if (!entry.emittedEnd) {
            entry.unpipe(pt);
            entry.resume();
          }
          pt.destroy();
        }
      });
    },
  });
  parser.on("ignoredEntry", (entry: ReadEntry) => {
    refusals.push({ path: entry.path, problem: "special", message: `${entry.path}: ${entry.type} tar header of ${entry.size} bytes, too large to read` });
  });
  parser.on("warn", (code: string, message: string) => {
    failure ??= new Error(`${code}: ${message}`);
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
      if (failure) break;
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
    const cause = failure ?? (e as Error);
    input.destroy();
    for (const pt of pending) pt.destroy(cause);
    await chain;
    throw cause instanceof TarReadError ? cause : new TarReadError(path, current, cause);
  }
  return { ...(manifest ?? { entries: [], errors: [`${path}: no ${MANIFEST} inside`] }), refusals, files };
}
