import { constants, type Stats } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import type { Readable } from "node:stream";

/**
 * Reading files whose paths come from data (a record's log pattern, an archive's entries, a run
 * directory's contents): only regular files are read. A FIFO blocks an open until a writer comes
 * and never ends; /dev/zero and /dev/urandom never end; a socket or a directory is no file; a
 * symlink may lead to a file the user never meant to publish. One home for this rule: archive,
 * log-parse and summary-md all use it.
 */
export type FileKind = "symlink" | "fifo" | "socket" | "character_device" | "block_device" | "directory" | "not_regular";

/** Stats or a Dirent: both say what kind of file they describe. */
type Typed = Pick<Stats, "isFile" | "isSymbolicLink" | "isFIFO" | "isSocket" | "isCharacterDevice" | "isBlockDevice" | "isDirectory">;

/** What a file is when it is not a regular file; undefined for a regular file. */
export function fileKind(st: Typed): FileKind | undefined {
  if (st.isFile()) return undefined;
  if (st.isSymbolicLink()) return "symlink";
  if (st.isFIFO()) return "fifo";
  if (st.isSocket()) return "socket";
  if (st.isCharacterDevice()) return "character_device";
  if (st.isBlockDevice()) return "block_device";
  if (st.isDirectory()) return "directory";
  return "not_regular";
}

export const FILE_KIND_TEXT: Record<FileKind, string> = {
  symlink: "a symbolic link",
  fifo: "a FIFO (named pipe)",
  socket: "a socket",
  character_device: "a character device",
  block_device: "a block device",
  directory: "a directory",
  not_regular: "not a regular file",
};

/** What a file is, in words for messages ("a FIFO (named pipe)", "a regular file"). */
export function describeFile(st: Typed): string {
  const kind = fileKind(st);
  return kind ? FILE_KIND_TEXT[kind] : "a regular file";
}

/**
 * Flags that open a file without following a symlink at its last component (O_NOFOLLOW: ELOOP)
 * and without blocking on a FIFO (O_NONBLOCK); the opened descriptor is then checked with fstat.
 */
export const REGULAR_OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/** Thrown when a path that must be a regular file is something else; `code` tells callers apart. */
export class NotRegularError extends Error {
  readonly code = "ENOTREGULAR";
  constructor(path: string, what: string) {
    super(`${path} is ${what}, not a regular file; not read`);
    this.name = "NotRegularError";
  }
}

/**
 * Opens `path` for reading only if it is a regular file (see REGULAR_OPEN_FLAGS). The type is
 * checked on the opened descriptor, so a file swapped for a link or pipe after it was listed is
 * refused rather than read.
 */
async function openRegular(path: string): Promise<{ handle: FileHandle; size: number; stats: Stats }> {
  let handle: FileHandle;
  try {
    handle = await open(path, REGULAR_OPEN_FLAGS);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ELOOP") throw new NotRegularError(path, FILE_KIND_TEXT.symlink);
    throw e;
  }
  const stats = await handle.stat();
  if (!stats.isFile()) {
    await handle.close();
    throw new NotRegularError(path, describeFile(stats));
  }
  return { handle, size: stats.size, stats };
}

/** A read stream of a regular file (see openRegular); `end` is inclusive, as in createReadStream. */
export async function readRegular(path: string, range?: { start: number; end: number }): Promise<Readable> {
  const { handle } = await openRegular(path);
  return handle.createReadStream({ autoClose: true, ...(range ?? {}) });
}
