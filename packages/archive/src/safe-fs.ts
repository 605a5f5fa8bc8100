import { constants, type Stats } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import type { Readable } from "node:stream";

/** Stats or a Dirent: both say what kind of file they describe. */
type Typed = Pick<Stats, "isSymbolicLink" | "isFIFO" | "isSocket" | "isCharacterDevice" | "isBlockDevice" | "isDirectory">;

/** What a non-regular file is, in words for error messages. */
export function kindOf(st: Typed): string {
  if (st.isSymbolicLink()) return "a symbolic link";
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isDirectory()) return "a directory";
  return "not a regular file";
}

/** Thrown when a path that must be a regular file is something else; `code` tells callers apart. */
export class NotRegularError extends Error {
  readonly code = "ENOTREGULAR";
  constructor(path: string, what: string) {
    super(`${path} is ${what}, not a regular file; not read`);
    this.name = "NotRegularError";
  }
}

/**
 * Opens `path` for reading only if it is a regular file, without following a symlink at the last
 * component (O_NOFOLLOW) and without blocking on a FIFO (O_NONBLOCK: a plain open of a FIFO waits
 * for a writer forever). The type is checked on the opened descriptor (fstat), so a file swapped
 * for a link or pipe after it was listed is refused rather than read.
 */
export async function openRegular(path: string): Promise<{ handle: FileHandle; size: number; stats: Stats }> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ELOOP") throw new NotRegularError(path, "a symbolic link");
    throw e;
  }
  const stats = await handle.stat();
  if (!stats.isFile()) {
    await handle.close();
    throw new NotRegularError(path, kindOf(stats));
  }
  return { handle, size: stats.size, stats };
}

/** A read stream of a regular file (see openRegular); `end` is inclusive, as in createReadStream. */
export async function readRegular(path: string, range?: { start: number; end: number }): Promise<Readable> {
  const { handle } = await openRegular(path);
  return handle.createReadStream({ autoClose: true, ...(range ?? {}) });
}
