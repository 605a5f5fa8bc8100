import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";
import { FILE_KIND_TEXT, UsageError, fileKind, fsReason } from "@slurmpipe/core";

/** A sweep file is a few KB; anything this big is not one (or is /dev/zero behind a name). */
export const MAX_SWEEP_FILE_BYTES = 16 * 1024 * 1024;

/**
 * The text of a sweep file, read only when it is a regular file of at most MAX_SWEEP_FILE_BYTES:
 * a FIFO would block the read until a writer comes (forever, from cron), a device like /dev/zero
 * never ends. Opened without blocking, the type checked on the open descriptor.
 */
export function readSweepText(path: string): string {
  let fd: number;
  try {
    // Followed when a symlink: the user named this file. O_NONBLOCK: a FIFO's open does not wait.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new UsageError(`cannot read sweep file ${path}: ${fsReason(e as NodeJS.ErrnoException)}`);
  }
  try {
    const st = fstatSync(fd);
    const kind = fileKind(st);
    if (kind) throw new UsageError(`sweep file ${path} is ${FILE_KIND_TEXT[kind]}, not a regular file; not read`);
    if (st.size > MAX_SWEEP_FILE_BYTES) throw new UsageError(`sweep file ${path} is ${st.size} bytes, over the ${MAX_SWEEP_FILE_BYTES}-byte limit of a sweep file`);
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}
