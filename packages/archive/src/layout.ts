import { isAbsolute, relative, resolve, sep } from "node:path";

/**
 * Archive paths are always relative, use forward slashes, and never climb out of the archive
 * root: a path that would (`..`, absolute, NUL) is refused instead of being "cleaned up", because a
 * silently rewritten path is how two files end up on top of each other.
 */
export function safeArchivePath(path: string): string {
  if (path === "" || path.includes("\0")) throw new Error(`unsafe archive path ${JSON.stringify(path)}`);
  if (path.startsWith("/") || /^[A-Za-z]:/.test(path) || path.includes("\\")) {
    throw new Error(`unsafe archive path ${JSON.stringify(path)}: must be relative, with forward slashes`);
  }
  const parts = path.split("/");
  if (parts.some((p) => p === ".." || p === "." || p === "")) {
    throw new Error(`unsafe archive path ${JSON.stringify(path)}: empty, "." or ".." component`);
  }
  return path;
}

/** A run name made safe as one path component (run names should already be; records come from anywhere). */
export function safeComponent(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._=+-]/g, "_");
  if (cleaned === "" || cleaned === "." || cleaned === "..") return "_";
  return cleaned;
}

/** `file` relative to `dir` with forward slashes, or undefined when it is not inside `dir`. */
export function inside(dir: string, file: string): string | undefined {
  const rel = relative(resolve(dir), resolve(file));
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) return undefined;
  return rel.split(sep).join("/");
}

/** Resolves an archive path under a destination root, refusing anything that would land outside it. */
export function destinationFor(root: string, archivePath: string): string {
  safeArchivePath(archivePath);
  const target = resolve(root, ...archivePath.split("/"));
  if (inside(root, target) === undefined) throw new Error(`archive path ${JSON.stringify(archivePath)} escapes ${root}`);
  return target;
}

/** UTC timestamp used in archive names: 20250101T120000Z (sorts as text, no colons for file systems). */
export function formatStamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z").replace(/[-:]/g, "");
}
