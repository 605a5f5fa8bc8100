import { existsSync, mkdirSync, rmdirSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";

const WHY: Record<string, string> = {
  EROFS: "it is on a read-only file system",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EIO: "input/output error",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  ENOTDIR: "a part of the path is a file, not a directory",
  EEXIST: "a file of that name is in the way",
  ENOENT: "a parent directory does not exist",
};

/** Why a file-system call failed, in words (the errno code when there are none). */
export function fsReason(e: NodeJS.ErrnoException): string {
  return (e.code && WHY[e.code]) ?? e.message;
}

/** A directory the user pointed at cannot be made or written: what, where, why, what to do. */
export class DirectoryError extends Error {
  constructor(
    readonly path: string,
    override readonly cause: NodeJS.ErrnoException,
    what: string,
    hint: string,
  ) {
    super(`${what} ${path} cannot be written (${fsReason(cause)}); ${hint}`);
    this.name = "DirectoryError";
  }
}

/**
 * The real reason a `mkdir -p` failed: on a read-only file system a recursive mkdir says ENOENT
 * (Node walks up and back down). Making the first missing directory below the deepest existing
 * one says why (EROFS, EACCES).
 */
function realCause(path: string, e: unknown): NodeJS.ErrnoException {
  const first = e as NodeJS.ErrnoException;
  if (first.code !== "ENOENT") return first;
  let missing = resolve(path);
  while (dirname(missing) !== missing && !existsSync(dirname(missing))) missing = dirname(missing);
  try {
    mkdirSync(missing);
    rmdirSync(missing); // it could be made after all: leave things as they were
  } catch (again) {
    if ((again as NodeJS.ErrnoException).code !== "ENOENT") return again as NodeJS.ErrnoException;
  }
  return first;
}

/** `mkdir -p` that fails with the real reason (EROFS, not the ENOENT a recursive mkdir reports). */
export async function mkdirp(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true });
  } catch (e) {
    throw realCause(path, e);
  }
}

export function mkdirpSync(path: string): void {
  try {
    mkdirSync(path, { recursive: true });
  } catch (e) {
    throw realCause(path, e);
  }
}
