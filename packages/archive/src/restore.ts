import { createWriteStream } from "node:fs";
import { unlink, utimes } from "node:fs/promises";
import { basename, resolve } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import picomatch from "picomatch";
import { destinationFor } from "./layout.ts";
import { type ManifestEntry, storedPath } from "./manifest.ts";
import { TarReadError } from "./reader.ts";
import { type TargetProblem, Transaction, type TargetError, checkTarget } from "./stage.ts";
import { type ArchiveSource, basePath, openArchive } from "./stored.ts";
import { HashTap, SizeLimit } from "./streams.ts";
import { type Refusal, checkManifest } from "./trust.ts";

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
  problem?: "missing" | "size_mismatch" | "sha256_mismatch" | "corrupt" | "missing_base" | "not_restored" | TargetProblem["problem"] | Refusal["problem"];
  message?: string;
}

type Failure = Pick<RestoreResult, "problem" | "message">;
const LOCAL = new Set(["ENOSPC", "EDQUOT", "EACCES", "EPERM", "EROFS", "EIO", "EMFILE"]);

/**
 * Writes one original file into the staging directory: decompressed when stored compressed, never
 * past the sizes the manifest promises (a gzip bomb stops at its claimed size), hashed on the way,
 * created with the manifest's permission bits so the umask applies, and dated.
 */
async function stageOne(data: Readable, e: ManifestEntry, tmp: string): Promise<Failure | undefined> {
  const tap = new HashTap();
  const inflated = new SizeLimit(e.size);
  const stored = new SizeLimit(e.compressed === "gzip" && e.stored_size !== undefined ? e.stored_size : Number.POSITIVE_INFINITY);
  const stages: NodeJS.ReadWriteStream[] = e.compressed === "gzip" ? [stored, createGunzip(), inflated] : [inflated];
  // open(2) masks this with the umask; bits beyond rwx (setuid, setgid, sticky) are never restored.
  const mode = e.mode !== undefined ? e.mode & 0o777 : 0o666;
  try {
    await pipeline(data, ...(stages as []), tap, createWriteStream(tmp, { flags: "wx", mode }));
  } catch (err) {
    data.destroy();
    await unlink(tmp).catch(() => {});
    if (stored.bytes > stored.limit) return { problem: "size_mismatch", message: `${storedPath(e)}: more than the ${stored.limit} stored bytes the manifest says; stopped there, not written` };
    if (inflated.bytes > inflated.limit) {
      const how = e.compressed === "gzip" ? "inflates to" : "has";
      return { problem: "size_mismatch", message: `${e.path}: ${how} more than the ${e.size} bytes the manifest says; stopped there, not written` };
    }
    const code = (err as NodeJS.ErrnoException).code ?? "";
    return { problem: LOCAL.has(code) ? "io" : "corrupt", message: `${e.path}: ${(err as Error).message}` };
  }
  const sha = tap.digest();
  if (tap.bytes !== e.size || sha !== e.sha256) {
    await unlink(tmp).catch(() => {});
    const problem = tap.bytes !== e.size ? "size_mismatch" : "sha256_mismatch";
    return { problem, message: `${e.path}: restored ${tap.bytes} bytes with sha256 ${sha}, manifest says ${e.size} bytes ${e.sha256}; not written` };
  }
  if (e.mtime_ms !== undefined) {
    try {
      await utimes(tmp, new Date(e.mtime_ms), new Date(e.mtime_ms));
    } catch (err) {
      return { problem: "io", message: `${e.path}: cannot set its mtime ${e.mtime_ms}: ${(err as Error).message}` };
    }
  }
  return undefined;
}

interface Target {
  e: ManifestEntry;
  dest: string;
  source: ArchiveSource;
}

/** Thrown from a scan callback to stop reading a tarball once the restore has failed. */
class Stop extends Error {}

/**
 * Restores (a selection of) an archive's files byte-identically, all or nothing. Everything it
 * trusts is checked before anything is written (the archive's structure, the manifest, every
 * target path under --to); then the files are staged and checked; then moved into place. Any
 * failure leaves --to as it was, with the failing entry named and every other one `not_restored`.
 */
export async function restoreArchive(archive: string, options: RestoreOptions, onResult: (r: RestoreResult) => Promise<void> | void): Promise<{ ok: boolean; restored: number; failed: number }> {
  const to = resolve(options.to);
  const match = options.only.length > 0 ? picomatch(options.only, { dot: true }) : () => true;
  const tally = { ok: true, restored: 0, failed: 0 };
  const result = (path: string, dest: string, f: Failure): RestoreResult => ({ kind: "archive-restore", archive, path, to: dest, ok: false, ...f });
  let selected: ManifestEntry[] = [];
  /** Reports the failures, then every selected entry without its own failure as not restored. */
  const fail = async (failures: RestoreResult[]) => {
    const named = new Set(failures.map((f) => f.path));
    const rest = selected.filter((e) => !named.has(e.path)).map((e) => result(e.path, to, { problem: "not_restored", message: `${e.path}: not restored (the restore failed; ${to} left as it was)` }));
    for (const r of [...failures, ...rest]) {
      tally.failed += 1;
      await onResult(r);
    }
    tally.ok = false;
    return tally;
  };

  let main: ArchiveSource;
  try {
    main = await openArchive(archive);
  } catch (err) {
    // A tarball that cannot be read to its end is corrupt; anything else (no such archive, no access) is missing.
    const problem = err instanceof TarReadError ? "corrupt" : "missing";
    return fail([result((err as TarReadError).entry ?? basename(archive), to, { problem, message: (err as Error).message })]);
  }
  const problems: RestoreResult[] = [];
  const refuse = (path: string, f: Failure, dest = to) => problems.push(result(path, dest, f));
  for (const r of [...main.refusals, ...checkManifest(main.manifest.entries, main.manifest.errors, basename(archive))]) refuse(r.path, r);
  selected = main.manifest.entries.filter((e) => match(e.path));
  if (selected.length === 0 && options.only.length > 0) refuse(options.only.join(" "), { problem: "missing", message: `nothing in the manifest matches ${options.only.join(", ")}` });
  if (problems.length > 0) return fail(problems);

  // Where each file's bytes are (this archive or an earlier one it builds on), and where it goes.
  const targets: Target[] = [];
  const bases = new Map<string, ArchiveSource | Error>();
  for (const e of selected) {
    const dest = destinationFor(to, e.path); // paths were checked above: this cannot throw
    let source: ArchiveSource | Error = main;
    if (e.unchanged_from !== undefined) {
      source = bases.get(e.unchanged_from) ?? (await openArchive(basePath(archive, e)).catch((err: Error) => err));
      if (!bases.has(e.unchanged_from)) {
        bases.set(e.unchanged_from, source);
        if (!(source instanceof Error)) for (const r of source.refusals) refuse(r.path, { problem: r.problem, message: `${r.message} (in base archive ${e.unchanged_from})` });
      }
      if (source instanceof Error) {
        refuse(e.path, { problem: "missing_base", message: `${e.path}: base archive ${e.unchanged_from}: ${source.message}` }, dest);
        continue;
      }
    }
    if (!source.present.has(storedPath(e))) {
      refuse(e.path, { problem: e.unchanged_from ? "missing_base" : "missing", message: `${storedPath(e)} is not in ${source.path}` }, dest);
      continue;
    }
    const clash = await checkTarget(to, e.path, options.force);
    if (clash) refuse(e.path, clash, dest);
    targets.push({ e, dest, source });
  }
  if (problems.length > 0) return fail(problems);

  const tx = await Transaction.begin(to);
  let failure: RestoreResult | undefined;
  let committed = false;
  try {
    const staged = new Map<ManifestEntry, string>();
    for (const source of new Set(targets.map((t) => t.source))) {
      const byStored = new Map(targets.filter((t) => t.source === source).map((t) => [storedPath(t.e), t]));
      try {
        await source.each(new Set(byStored.keys()), async (stored, data) => {
          const t = byStored.get(stored)!;
          const tmp = tx.stagedPath();
          const bad = await stageOne(data, t.e, tmp);
          if (!bad) return void staged.set(t.e, tmp);
          failure = result(t.e.path, t.dest, bad);
          throw new Stop(); // one bad file fails the restore: do not read the rest
        });
      } catch (err) {
        failure ??= result((err as TarReadError).entry ?? basename(source.path), to, { problem: "corrupt", message: (err as Error).message });
      }
      if (failure) break;
    }
    for (const t of targets) {
      if (!failure && !staged.has(t.e)) failure = result(t.e.path, t.dest, { problem: "missing", message: `${storedPath(t.e)} was not in ${t.source.path} when it was read again` });
    }
    if (!failure) {
      const order = [...targets].sort((a, b) => (a.e.path < b.e.path ? -1 : 1));
      try {
        await tx.commit(order.map((t) => ({ rel: t.e.path, staged: staged.get(t.e)! })), options.force);
        committed = true;
      } catch (err) {
        const e = err as TargetError;
        failure = result(e.rel, to, { problem: e.problem ?? "io", message: e.message });
      }
    }
  } finally {
    // Anything short of a finished commit (a failure, or an exception on the way) is undone.
    if (committed) await tx.done();
    else await tx.abort();
  }
  if (failure) return fail([failure]);
  for (const t of targets) {
    tally.restored += 1;
    await onResult({ kind: "archive-restore", archive, path: t.e.path, to: t.dest, ok: true, size: t.e.size, sha256: t.e.sha256 });
  }
  return tally;
}
