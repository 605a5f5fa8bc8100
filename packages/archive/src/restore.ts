import { createWriteStream } from "node:fs";
import { chmod, lstat, mkdir, rename, unlink, utimes } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import picomatch from "picomatch";
import { destinationFor } from "./layout.ts";
import { type ManifestEntry, storedPath } from "./manifest.ts";
import { type OpenedArchive, basePath, openArchive } from "./stored.ts";
import { HashTap } from "./streams.ts";

export interface RestoreOptions {
  to: string;
  /** Globs on archive paths (e.g. `runs/a/**`, `**\/model.ckpt`); all files when empty. */
  only: string[];
  force: boolean;
}

export interface RestoreResult {
  kind: "archive-restore";
  archive: string;
  path: string;
  to: string;
  ok: boolean;
  size?: number;
  sha256?: string;
  problem?: "exists" | "missing" | "size_mismatch" | "sha256_mismatch" | "corrupt" | "missing_base" | "manifest";
  message?: string;
}

const exists = (p: string) => lstat(p).then(() => true, () => false);

/**
 * Writes one original file from its stored bytes: decompressed when it was stored compressed,
 * hashed while written, and moved into place only when size and sha256 match the manifest.
 */
async function restoreOne(data: Readable, entry: ManifestEntry, dest: string, force: boolean): Promise<Pick<RestoreResult, "ok" | "problem" | "message">> {
  await mkdir(dirname(dest), { recursive: true });
  const tmp = `${dest}.sp-restore-${process.pid}`;
  const tap = new HashTap();
  try {
    const stages: NodeJS.ReadWriteStream[] = entry.compressed === "gzip" ? [createGunzip()] : [];
    await pipeline(data, ...(stages as []), tap, createWriteStream(tmp, { flags: "wx" }));
  } catch (e) {
    await unlink(tmp).catch(() => {});
    return { ok: false, problem: "corrupt", message: `${entry.path}: ${(e as Error).message}` };
  }
  const sha = tap.digest();
  if (tap.bytes !== entry.size || sha !== entry.sha256) {
    await unlink(tmp).catch(() => {});
    const problem = tap.bytes !== entry.size ? "size_mismatch" : "sha256_mismatch";
    return { ok: false, problem, message: `${entry.path}: restored ${tap.bytes} bytes with sha256 ${sha}, manifest says ${entry.size} bytes ${entry.sha256}; not written` };
  }
  if (entry.mode !== undefined) await chmod(tmp, entry.mode & 0o777);
  if (entry.mtime_ms !== undefined) await utimes(tmp, new Date(entry.mtime_ms), new Date(entry.mtime_ms));
  if (!force && (await exists(dest))) {
    await unlink(tmp).catch(() => {});
    return { ok: false, problem: "exists", message: `${dest} appeared while restoring; not overwritten (use --force)` };
  }
  await rename(tmp, dest);
  return { ok: true };
}

/** Restores (a selection of) an archive's files byte-identically; refuses to overwrite without `force`. */
export async function restoreArchive(archive: string, options: RestoreOptions, onResult: (r: RestoreResult) => Promise<void> | void): Promise<{ ok: boolean; restored: number; failed: number }> {
  const to = resolve(options.to);
  await mkdir(to, { recursive: true });
  const match = options.only.length > 0 ? picomatch(options.only, { dot: true }) : () => true;
  // Tarballs: spool what could be wanted (the original name or its .gz) until the manifest is read.
  const wanted = (stored: string) => match(stored) || match(stored.replace(/\.gz$/, ""));
  const tally = { ok: true, restored: 0, failed: 0 };
  const report = async (r: RestoreResult) => {
    if (r.ok) tally.restored += 1;
    else {
      tally.failed += 1;
      tally.ok = false;
    }
    await onResult(r);
  };

  const opened: OpenedArchive[] = [];
  try {
    const main = await openArchive(archive, to, wanted);
    opened.push(main);
    for (const message of main.manifest.errors) await report({ kind: "archive-restore", archive, path: "MANIFEST.ndjson", to, ok: false, problem: "manifest", message });
    const selected = main.manifest.entries.filter((e) => match(e.path));
    if (selected.length === 0 && options.only.length > 0) {
      await report({ kind: "archive-restore", archive, path: options.only.join(" "), to, ok: false, problem: "missing", message: `nothing in the manifest matches ${options.only.join(", ")}` });
    }

    // Refuse before writing anything: a half-restored tree next to old files is the worst outcome.
    const targets = selected.map((e) => ({ e, dest: destinationFor(to, e.path) }));
    if (!options.force) {
      const clashing = [];
      for (const t of targets) if (await exists(t.dest)) clashing.push(t);
      if (clashing.length > 0) {
        for (const t of clashing) {
          await report({ kind: "archive-restore", archive, path: t.e.path, to: t.dest, ok: false, problem: "exists", message: `${t.dest} exists; not overwritten (use --force)` });
        }
        return tally;
      }
    }

    const bases = new Map<string, OpenedArchive>();
    for (const { e, dest } of targets) {
      let source: OpenedArchive = main;
      if (e.unchanged_from !== undefined) {
        let base = bases.get(e.unchanged_from);
        if (!base) {
          const names = new Set(targets.filter((t) => t.e.unchanged_from === e.unchanged_from).map((t) => storedPath(t.e)));
          try {
            base = await openArchive(basePath(archive, e), to, (s) => names.has(s));
          } catch (err) {
            await report({ kind: "archive-restore", archive, path: e.path, to: dest, ok: false, problem: "missing_base", message: `${e.path}: base archive ${e.unchanged_from}: ${(err as Error).message}` });
            continue;
          }
          opened.push(base);
          bases.set(e.unchanged_from, base);
        }
        source = base;
      }
      const stored = storedPath(e);
      if (!source.present.has(stored)) {
        await report({ kind: "archive-restore", archive, path: e.path, to: dest, ok: false, problem: "missing", message: `${stored} is not in ${source.path}` });
        continue;
      }
      const r = await restoreOne(source.open(stored), e, dest, options.force);
      await report({ kind: "archive-restore", archive, path: e.path, to: dest, size: e.size, sha256: e.sha256, ...r });
    }
  } finally {
    for (const o of opened) await o.close();
  }
  return tally;
}
