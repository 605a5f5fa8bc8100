import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { chmod, mkdir, rename, rm, stat, unlink, utimes } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { Header, Pack, ReadEntry } from "tar";
import { destinationFor } from "./layout.ts";
import { zstdCompressTo } from "./zstd.ts";

export type ArchiveFormat = "dir" | "tar.gz" | "tar.zst";

export interface EntryMeta {
  mtimeMs: number;
  mode: number;
  /** Exact byte count, when known before writing (required by tar headers; spooled otherwise). */
  size?: number;
}

/** Where stored bytes go: a directory tree or one tarball, always written under a partial name first. */
export interface ArchiveSink {
  readonly format: ArchiveFormat;
  /** Final path of the archive (directory or file). */
  readonly path: string;
  /** Stores one file: `write` must pipe exactly the stored bytes into the writable it gets. */
  store(archivePath: string, meta: EntryMeta, write: (dest: Writable) => Promise<void>): Promise<void>;
  /** Completes the archive and moves it to its final name. */
  finish(): Promise<void>;
  /** Removes everything written so far. */
  abort(): Promise<void>;
}

export function openSink(format: ArchiveFormat, finalPath: string, options: { level: number; tmpDir: string }): ArchiveSink {
  return format === "dir" ? new DirSink(finalPath) : new TarSink(format, finalPath, options.level, options.tmpDir);
}

const partialName = (finalPath: string) => join(dirname(finalPath), `.${finalPath.split("/").pop()}.partial-${process.pid}`);

class DirSink implements ArchiveSink {
  readonly format = "dir" as const;
  private readonly partial: string;
  constructor(readonly path: string) {
    this.partial = partialName(path);
  }
  async store(archivePath: string, meta: EntryMeta, write: (dest: Writable) => Promise<void>): Promise<void> {
    const target = destinationFor(this.partial, archivePath);
    await mkdir(dirname(target), { recursive: true });
    await write(createWriteStream(target, { flags: "wx" }));
    await chmod(target, (meta.mode & 0o777) | 0o400);
    const t = new Date(meta.mtimeMs);
    await utimes(target, t, t);
  }
  async finish(): Promise<void> {
    await mkdir(this.partial, { recursive: true });
    await rename(this.partial, this.path);
  }
  async abort(): Promise<void> {
    await rm(this.partial, { recursive: true, force: true });
  }
}

/**
 * A tarball written with node-tar's Pack: each file becomes a synthetic tar entry (Header +
 * ReadEntry) whose bytes we stream in, so paths are exactly the archive paths (never the source
 * layout), checkpoints can be compressed on their way in, and memory stays constant.
 */
class TarSink implements ArchiveSink {
  private readonly partial: string;
  private readonly pack = new Pack({ portable: true, noDirRecurse: true });
  private readonly flushed: Promise<unknown>;
  private spool = 0;

  constructor(
    readonly format: "tar.gz" | "tar.zst",
    readonly path: string,
    level: number,
    private readonly tmpDir: string,
  ) {
    this.partial = partialName(path);
    const file = createWriteStream(this.partial, { flags: "wx" });
    if (format === "tar.gz") {
      this.flushed = pipeline(this.pack as unknown as NodeJS.ReadableStream, createGzip({ level }), file);
    } else {
      const z = zstdCompressTo(file, level);
      const input = pipeline(this.pack as unknown as NodeJS.ReadableStream, z.input);
      const rest = z.output ? pipeline(z.output, file) : Promise.all([z.proc, once(file, "close")]);
      this.flushed = Promise.all([input, rest]);
    }
    // Surface errors through finish(); an unhandled rejection here would kill the process first.
    this.flushed.catch(() => {});
  }

  async store(archivePath: string, meta: EntryMeta, write: (dest: Writable) => Promise<void>): Promise<void> {
    destinationFor("/", archivePath); // validates the path
    if (meta.size === undefined) {
      // Compressed output has no size until it is written: spool it, then add it with its size.
      const tmp = join(this.tmpDir, `spool-${process.pid}-${this.spool++}`);
      try {
        await write(createWriteStream(tmp, { flags: "wx" }));
        const { size } = await stat(tmp);
        await this.store(archivePath, { ...meta, size }, (dest) => pipeline(createReadStream(tmp), dest));
      } finally {
        await unlink(tmp).catch(() => {});
      }
      return;
    }
    const size = meta.size;
    const header = new Header({ path: archivePath, mode: (meta.mode & 0o777) | 0o400, size, mtime: new Date(meta.mtimeMs), type: "File" });
    const entry = new ReadEntry(header);
    const ended = once(entry, "end");
    this.pack.write(entry);
    let written = 0;
    const dest = new Writable({
      write(chunk: Buffer, _enc, done) {
        written += chunk.length;
        if (written > size) return done(new Error(`${archivePath}: more than the ${size} bytes announced (file grew while archiving?)`));
        if (entry.write(chunk)) return done();
        entry.once("drain", () => done());
      },
    });
    await write(dest);
    if (written !== size) throw new Error(`${archivePath}: ${written} bytes read, ${size} expected (file shrank while archiving?)`);
    entry.end();
    await ended;
  }

  async finish(): Promise<void> {
    this.pack.end();
    await this.flushed;
    await rename(this.partial, this.path);
  }

  async abort(): Promise<void> {
    this.pack.destroy?.();
    await rm(this.partial, { force: true });
  }
}
