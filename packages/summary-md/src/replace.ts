import { randomBytes } from "node:crypto";
import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fsReason, fsyncDir } from "@slurmpipe/core";
import { type FileTarget, Resolver, TargetError, checkWritable, shown } from "./target.ts";

/*
 * Replaces a file atomically (temp file + fsync + rename + directory fsync, as core's
 * writeFileAtomic) but as the file the user knows: the file a symlink points to is replaced, not
 * the link; the temp file is made in that file's directory, so the rename stays on one file
 * system; the mode is kept exactly and the owner/group where the process may set them; a file
 * that may not be written is refused before anything is created.
 */

export type FileData = string | Buffer | ((fh: FileHandle) => Promise<void>);

export interface ReplaceOptions {
  /** Shares resolved directories between calls (many plot files in one directory). */
  resolver?: Resolver;
  /** Things the user should know that do not stop the write (owner not kept, hard links). */
  warn?: (message: string) => void;
  /** The part of the path the user chose (default: its directory); symlinks past it must be trusted (see target.ts). */
  typed?: string;
}

/** Resolves path (trusted symlinks followed), checks it may be written, then replaces the file it names. */
export async function replaceFile(path: string, data: FileData, options: ReplaceOptions = {}): Promise<FileTarget> {
  const target = await (options.resolver ?? new Resolver()).file(path, options.typed);
  await checkWritable(target);
  await writeTarget(target, data, options.warn ?? (() => {}));
  return target;
}

/** Replaces an already resolved and checked target. */
export async function writeTarget(target: FileTarget, data: FileData, warn: (message: string) => void): Promise<void> {
  const dir = dirname(target.real);
  const tmp = join(dir, `.${basename(target.real)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  if (target.stat && target.stat.nlink > 1)
    warn(`${shown(target)} has ${target.stat.nlink} hard links; only this name gets the update (the other names keep the old content)`);
  // An existing file's temp copy starts private (0600), so a 0600 document is never readable by
  // others, even for a moment; its own mode is set before the rename. A new file follows the umask.
  const fh = await open(tmp, "wx", target.stat ? 0o600 : 0o666).catch((e) => Promise.reject(failure(target, e)));
  let closed = false;
  try {
    if (typeof data === "function") await data(fh);
    else await fh.writeFile(data);
    if (target.stat) await keepOwnerAndMode(fh, target, warn);
    await fh.sync();
    closed = true;
    await fh.close();
    await rename(tmp, target.real);
  } catch (e) {
    // Also after a failed rename (core's writeFileAtomic leaves the temp file then).
    if (!closed) await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw failure(target, e);
  }
  await fsyncDir(dir);
}

/** chown before chmod: chown clears the setuid/setgid bits. */
async function keepOwnerAndMode(fh: FileHandle, target: FileTarget, warn: (message: string) => void): Promise<void> {
  const want = target.stat!;
  const have = await fh.stat();
  if (have.uid !== want.uid || have.gid !== want.gid) {
    try {
      await fh.chown(want.uid, want.gid);
    } catch {
      // Only root may give a file to another user; a user may still set a group they are in.
      const groupKept = await fh.chown(-1, want.gid).then(
        () => true,
        () => false,
      );
      const now = await fh.stat();
      warn(
        `${shown(target)} belonged to uid ${want.uid} gid ${want.gid}; the new file belongs to uid ${now.uid} gid ${now.gid}` +
          (groupKept ? " (its group is kept)" : "") +
          ": only root can keep another user's file theirs",
      );
    }
  }
  await fh.chmod(want.mode & 0o7777);
}


/** The error names the file the user named, not the temp file; the errno code stays on it. */
function failure(target: FileTarget, e: unknown): Error {
  if (e instanceof TargetError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "EROFS") return new TargetError(`cannot write ${shown(target)}: ${dirname(target.real)} is on a read-only file system`, "read-only-fs", target.path);
  const words = fsReason(e as NodeJS.ErrnoException);
  const reason = words === (e as Error).message ? words : `${words} (${code})`;
  return Object.assign(new Error(`cannot write ${shown(target)}: ${reason}`, { cause: e }), code ? { code } : {});
}
