import { execFileSync } from "node:child_process";
import { closeSync, constants, lstatSync, mkdirSync, openSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";

/** Root passes access(2) for almost everything, so several tests only mean something as root (or only as non-root). */
export const isRoot = process.geteuid?.() === 0;

export const modeOf = (path: string): number => lstatSync(path).mode & 0o7777;

/** Every temp file summary-md might have left anywhere under dir (the writer's `.<name>.<pid>.<hex>.tmp`). */
export function tempFilesUnder(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith(".tmp")) found.push(relative(dir, join(d, e.name)));
    }
  };
  walk(dir);
  return found;
}

export function mkfifo(path: string): string {
  execFileSync("mkfifo", [path]);
  return path;
}

/** A reader blocked on a FIFO (the old code read --update documents whole) is released by a writer opening it. */
export function releaseFifo(path: string): void {
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
  } catch {
    // ENXIO: nobody is reading it.
  }
}

/** Rejects when the promise takes longer than ms (a FIFO would block a whole-file read forever). */
export function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * A tmpfs at dir (root only): `size` limits it (ENOSPC tests), `readOnly` remounts it read-only once
 * `fill` has put its files in. Returns undefined where mounting is not possible (not root, no mount).
 */
export function mountTmpfs(dir: string, options: { size?: string; readOnly?: boolean; fill?: (dir: string) => void } = {}): (() => void) | undefined {
  if (!isRoot) return undefined;
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${options.size ?? "1m"}`, "tmpfs", dir], { stdio: "ignore" });
  } catch {
    return undefined;
  }
  const unmount = () => execFileSync("umount", ["-l", dir], { stdio: "ignore" });
  options.fill?.(dir);
  if (options.readOnly) execFileSync("mount", ["-o", "remount,ro", dir], { stdio: "ignore" });
  return unmount;
}
