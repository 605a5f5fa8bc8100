import { safeArchivePath } from "./layout.ts";
import { MANIFEST, type ManifestEntry, SUMS, storedPath } from "./manifest.ts";

/**
 * Why an archive (or one of its entries) is not trusted. Restore refuses the whole archive on any
 * of these, before writing anything; verify reports every one. Both get them from here, so verify
 * can never pass an archive that restore would refuse.
 */
export interface Refusal {
  path: string;
  problem: "special" | "unsafe_path" | "duplicate" | "path_clash" | "manifest";
  message: string;
}

/** Largest |ms| a JavaScript Date (and so utimes) accepts. */
const MAX_TIME_MS = 8.64e15;
/** Archive names are made by safeComponent + a stamp, so a base is one plain component. */
const SIBLING = /^[A-Za-z0-9._=+-]+$/;

function unsafe(path: string): string | undefined {
  try {
    safeArchivePath(path);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Checks one tar entry name: the same rules as archive paths (no `..`, not absolute, no `.`/empty parts). */
export function tarNameRefusal(name: string): Refusal | undefined {
  const why = unsafe(name);
  return why ? { path: name, problem: "unsafe_path", message: `${name}: tar entry ${why}` } : undefined;
}

/** A non-regular tar entry: links and devices are never written by pack and never restored. */
export function tarTypeRefusal(name: string, type: string, linkpath?: string): Refusal {
  const what: Record<string, string> = {
    SymbolicLink: "a symbolic link",
    Link: "a hard link",
    CharacterDevice: "a character device",
    BlockDevice: "a block device",
    FIFO: "a FIFO",
  };
  const to = linkpath !== undefined ? ` to ${JSON.stringify(linkpath)}` : "";
  return { path: name, problem: "special", message: `${name}: tar entry is ${what[type] ?? `of type ${type}`}${to}; archives hold regular files only` };
}

/**
 * Everything restore trusts in a manifest, checked before anything is read or written: paths and
 * stored paths safe, no two entries on one path (or one a directory of another), known
 * compression, a representable mtime, a permission mode, a sibling base archive name.
 */
export function checkManifest(entries: ManifestEntry[], errors: string[], archiveName: string): Refusal[] {
  const out: Refusal[] = errors.map((message) => ({ path: MANIFEST, problem: "manifest", message }));
  const paths = new Set<string>();
  const stored = new Set<string>();
  for (const e of entries) {
    const bad = (problem: Refusal["problem"], message: string) => out.push({ path: e.path, problem, message: `${e.path}: ${message}` });
    const s = storedPath(e);
    const whyPath = unsafe(e.path);
    if (whyPath) bad("unsafe_path", `manifest path ${whyPath}`);
    const whyStored = unsafe(s);
    if (whyStored) bad("unsafe_path", `stored_as ${whyStored}`);
    else if (e.unchanged_from === undefined && (s === MANIFEST || s === SUMS)) bad("unsafe_path", `stored_as ${s} is the archive's own ${s}`);
    if (e.compressed !== undefined && e.compressed !== "gzip") bad("manifest", `unsupported per-file compression ${JSON.stringify(e.compressed)}`);
    if (e.mtime_ms !== undefined && !(Number.isFinite(e.mtime_ms) && Math.abs(e.mtime_ms) <= MAX_TIME_MS)) bad("manifest", `mtime_ms ${e.mtime_ms} is not a time`);
    if (e.mode !== undefined && e.mode > 0o7777) bad("manifest", `mode ${e.mode} is not a permission mode`);
    const base = e.unchanged_from;
    if (base !== undefined && (!SIBLING.test(base) || base === "." || base === ".." || base === archiveName)) {
      bad("manifest", `unchanged_from ${JSON.stringify(base)} is not the name of another archive next to this one`);
    }
    if (whyPath) continue;
    if (paths.has(e.path)) bad("duplicate", "listed twice in the manifest");
    paths.add(e.path);
    const key = `${base ?? ""}\0${s}`;
    if (!whyStored && stored.has(key)) bad("duplicate", `stored bytes ${s} are claimed by two entries`);
    stored.add(key);
  }
  // A path that is also a directory of another path: one of the two cannot be restored.
  for (const p of paths) {
    const parts = p.split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      if (paths.has(dir)) out.push({ path: dir, problem: "path_clash", message: `${dir}: a file in the manifest, and also a directory of ${p}` });
    }
  }
  return out;
}
