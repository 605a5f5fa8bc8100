import { type ReadStream, type Stats, closeSync, createReadStream, fstatSync, lstatSync, openSync, read, readSync, realpathSync, statSync } from "node:fs";
import { FILE_KIND_TEXT, type FileKind, REGULAR_OPEN_FLAGS, fileKind } from "@slurmpipe/core";
import { dirname, sep } from "node:path";

/**
 * Opens a log for reading only when it is a regular file. A log path is data (a record's pattern,
 * a job's working directory), so it may name anything: a FIFO (opening it blocks until a writer
 * comes, reading it never ends), /dev/zero or /dev/urandom (endless), a socket, a directory, or a
 * symlink some user left pointing at a file of theirs (whose lines would end up as evidence in
 * the report). None of those is opened:
 * - the type is checked with stat before any open (opening some devices has side effects);
 * - the file is opened with O_NONBLOCK and O_NOFOLLOW and checked again with fstat, so a path
 *   swapped for a FIFO or a symlink in between cannot block or redirect the read;
 * - a log whose last component is a symlink is followed only to a file inside the log's own
 *   directory or one of `roots` (the run's dir), unless `anySymlink` (a LOG_FILE the user named);
 * - the file is read up to the size it had when opened, so a job writing faster than log-parse
 *   reads cannot keep it reading forever (what it writes later is read by the next run).
 */
export type Refusal = FileKind | "symlink_outside" | "unreadable";

/**
 * An opened log: the part of fs/promises' FileHandle log-parse uses, on a plain descriptor. The
 * checks, the open, the small reads (hash windows) and the close are synchronous: a cron tick over
 * 216 runs made ~6,000 such calls, and each trip through libuv's thread pool cost 50-250 µs on a
 * 2-core VM against ~5 µs done in place (bench 8: a quarter of the tick waited on them). `read`
 * stays asynchronous (the event loop, and a signal's handler, get control between reads), and
 * `readSync` is for the reads that must not wait for the thread pool (a few KiB from the page cache).
 */
export class LogHandle {
  private closed = false;
  constructor(readonly fd: number) {}

  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    return new Promise((resolve, reject) => read(this.fd, buffer, offset, length, position, (e, bytesRead) => (e ? reject(e) : resolve({ bytesRead }))));
  }

  readSync(buffer: Uint8Array, offset: number, length: number, position: number): number {
    return readSync(this.fd, buffer, offset, length, position);
  }

  /** The bytes [start, end] as a stream; the descriptor stays open (close() closes it). */
  createReadStream(options: { start: number; end: number }): ReadStream {
    return createReadStream("", { fd: this.fd, start: options.start, end: options.end, autoClose: false });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

export type Opened =
  | { ok: true; handle: LogHandle; size: number; stat: Stats }
  | { ok: false; exists: false; message?: string }
  | { ok: false; exists: true; refused: Refusal; message: string };

export interface OpenOptions {
  /** Directories a symlinked log may point into besides its own (the run's dir). */
  roots?: readonly string[];
  /** Follow a symlink wherever it points (a path the user typed). */
  anySymlink?: boolean;
}

function notRegular(path: string, kind: FileKind): Opened {
  const what = kind === "not_regular" ? FILE_KIND_TEXT[kind] : `${FILE_KIND_TEXT[kind]}, not a regular file`;
  return { ok: false, exists: true, refused: kind, message: `${path}: ${what}: not read (log-parse reads only regular files)` };
}

function inside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** Resolves to the opened regular file, or why it was not opened. Never throws. */
export async function openLog(path: string, options: OpenOptions = {}): Promise<Opened> {
  return openLogSync(path, options);
}

const attempt = <T>(f: () => T): T | NodeJS.ErrnoException => {
  try {
    return f();
  } catch (e) {
    return e as NodeJS.ErrnoException;
  }
};

function openLogSync(path: string, options: OpenOptions): Opened {
  const st = attempt(() => statSync(path));
  if (st instanceof Error) {
    if (st.code === "ENOENT" || st.code === "ENOTDIR") return { ok: false, exists: false };
    return { ok: false, exists: true, refused: "unreadable", message: `${path}: ${st.message}` };
  }
  const kind = fileKind(st);
  if (kind) return notRegular(path, kind);
  let target = path;
  const link = attempt(() => lstatSync(path));
  if (!(link instanceof Error) && link.isSymbolicLink()) {
    try {
      target = realpathSync.native(path);
      if (!options.anySymlink) {
        const roots = [dirname(path), ...(options.roots ?? [])];
        const real = roots.map((r) => {
          const x = attempt(() => realpathSync.native(r));
          return x instanceof Error ? undefined : x;
        });
        if (!real.some((r) => r !== undefined && inside(target, r)))
          return { ok: false, exists: true, refused: "symlink_outside", message: `${path}: a symlink to ${target}, outside ${real[0] ?? dirname(path)}: not read (a log's symlink is followed only within its own directory or the run's dir)` };
      }
    } catch (e) {
      return { ok: false, exists: true, refused: "unreadable", message: `${path}: ${(e as Error).message}` };
    }
  }
  const fd = attempt(() => openSync(target, REGULAR_OPEN_FLAGS));
  if (fd instanceof Error) {
    if (fd.code === "ENOENT") return { ok: false, exists: false };
    // ELOOP: the last component became a symlink after the checks above.
    return { ok: false, exists: true, refused: "unreadable", message: `${path}: ${fd.message}` };
  }
  const handle = new LogHandle(fd);
  const st2 = attempt(() => fstatSync(fd));
  const fst = st2 instanceof Error ? undefined : st2;
  const now = fst ? fileKind(fst) : "not_regular";
  if (now || !fst) {
    void handle.close();
    return notRegular(path, now ?? "not_regular");
  }
  return { ok: true, handle, size: fst.size, stat: fst };
}

/**
 * The first `max` bytes of an opened file as text, read in a loop (one read may return less), and
 * the handle closed. For the small metric files read whole (trainer_state.json, MLflow metrics).
 */
export async function readOpenedText(handle: LogHandle, fileSize: number, max: number): Promise<{ text: string; bytes: number }> {
  try {
    const size = Math.min(fileSize, max);
    const buf = Buffer.alloc(size);
    let got = 0;
    while (got < size) {
      const { bytesRead } = await handle.read(buf, got, size - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return { text: buf.toString("utf8", 0, got), bytes: got };
  } finally {
    await handle.close();
  }
}
