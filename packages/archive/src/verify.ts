import { readRegular } from "@slurmpipe/core";
import { stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { type ManifestEntry, MANIFEST, type ParsedManifest, SUMS, storedPath } from "./manifest.ts";
import { type Limits, type Measured, measure } from "./streams.ts";
import { type TarReadError, archiveKind, listDirTree, openStored, readDirManifest, scanTar } from "./reader.ts";
import { basePath } from "./stored.ts";
import { type ParsedSums, checkSums, readSums } from "./sums.ts";
import { type Refusal, checkManifest } from "./trust.ts";

export interface VerifyResult {
  kind: "archive-verify";
  archive: string;
  path: string;
  stored_as?: string;
  ok: boolean;
  problem?: "missing" | "extra" | "size_mismatch" | "sha256_mismatch" | "corrupt" | "missing_base" | "sums" | Refusal["problem"];
  message?: string;
  size?: number;
  sha256?: string;
  actual_size?: number;
  actual_sha256?: string;
  unchanged_from?: string;
}

export interface VerifySummary {
  kind: "archive-verify-summary";
  archive: string;
  ok: boolean;
  files: number;
  failed: number;
  missing: number;
  extra: number;
}

/** Compares what was read against the manifest entry; undefined means it matches. */
export function compare(entry: ManifestEntry, m: Measured): Pick<VerifyResult, "problem" | "message" | "actual_size" | "actual_sha256"> | undefined {
  const stored = storedPath(entry);
  if (m.over === "stored") {
    const limit = entry.compressed !== undefined ? entry.stored_size : entry.size;
    return { problem: "size_mismatch", message: `${stored}: more than the ${limit} bytes the manifest says; stopped reading` };
  }
  if (entry.compressed !== undefined) {
    if (entry.compressed !== "gzip") return { problem: "corrupt", message: `${stored}: unsupported per-file compression ${entry.compressed}` };
    if (m.over === "original") return { problem: "size_mismatch", message: `${entry.path}: inflates to more than the ${entry.size} bytes the manifest says; stopped` };
    if (!m.original) return { problem: "corrupt", message: `${stored}: not valid gzip (${m.gunzipError ?? "no data"})` };
    if (entry.stored_size !== undefined && m.size !== entry.stored_size) {
      return { problem: "size_mismatch", message: `${stored}: stored size ${m.size}, manifest says ${entry.stored_size}`, actual_size: m.size };
    }
    if (entry.stored_sha256 !== undefined && m.sha256 !== entry.stored_sha256) {
      return { problem: "sha256_mismatch", message: `${stored}: sha256 of the stored bytes differs from the manifest`, actual_sha256: m.sha256 };
    }
    m = { size: m.original.size, sha256: m.original.sha256 };
  }
  if (m.size !== entry.size) return { problem: "size_mismatch", message: `${entry.path}: ${m.size} bytes, manifest says ${entry.size}`, actual_size: m.size, actual_sha256: m.sha256 };
  if (m.sha256 !== entry.sha256) return { problem: "sha256_mismatch", message: `${entry.path}: sha256 ${m.sha256} differs from the manifest's ${entry.sha256}`, actual_sha256: m.sha256 };
  return undefined;
}

const maybeGzip = (name: string) => name.endsWith(".gz");

/** The sizes a manifest entry promises, so reading a lying file stops there (see SizeLimit). */
export function limitsFor(e: ManifestEntry): Limits {
  if (e.compressed === undefined) return { stored: e.size };
  return e.stored_size !== undefined ? { stored: e.stored_size, original: e.size } : { original: e.size };
}

type Report = (r: VerifyResult) => Promise<void>;

/**
 * Reads every stored byte of `archive` (dir or tarball) and checks it against its MANIFEST, and
 * everything restore would trust: the archive's structure (regular files only, safe and unique
 * names), the manifest's paths, times and modes (the same checks restore refuses on), and that
 * SHA256SUMS lists exactly the stored files with the manifest's hashes.
 */
export async function verifyArchive(archive: string, onResult: (r: VerifyResult) => Promise<void> | void): Promise<VerifySummary> {
  const summary: VerifySummary = { kind: "archive-verify-summary", archive, ok: true, files: 0, failed: 0, missing: 0, extra: 0 };
  const report: Report = async (r) => {
    if (!r.ok) {
      summary.failed += 1;
      summary.ok = false;
      if (r.problem === "missing") summary.missing += 1;
      if (r.problem === "extra") summary.extra += 1;
    }
    await onResult(r);
  };
  const fail = (path: string, problem: VerifyResult["problem"], message: string) => report({ kind: "archive-verify", archive, path, ok: false, problem, message });
  const kind = await archiveKind(archive);
  const actual = new Map<string, Measured>();
  let manifest: ParsedManifest;
  let refusals: Refusal[];
  let present: string[];
  let sums: ParsedSums | undefined;
  if (kind === "dir") {
    const tree = await listDirTree(archive);
    ({ refusals } = tree);
    present = tree.files;
    manifest = await readDirManifest(archive);
    if (present.includes(SUMS)) {
      try {
        sums = await readSums(await readRegular(join(archive, SUMS)));
      } catch (err) {
        await fail(SUMS, "corrupt", `${SUMS}: ${(err as Error).message}`);
      }
    }
    const files = new Set(present);
    const refused = new Set(checkManifest(manifest.entries, [], basename(archive)).map((r) => r.path));
    for (const e of manifest.entries) {
      const s = storedPath(e);
      if (e.unchanged_from !== undefined || refused.has(e.path) || !files.has(s)) continue;
      try {
        actual.set(s, await measure(await openStored(archive, s), e.compressed !== undefined, limitsFor(e)));
      } catch (err) {
        await report({ kind: "archive-verify", archive, path: e.path, stored_as: s, ok: false, problem: "corrupt", message: `${s}: ${(err as Error).message}` });
        actual.set(s, { size: -1, sha256: "", gunzipError: "unreadable" });
      }
    }
  } else {
    try {
      const scan = await scanTar(archive, async (name, data) => {
        if (name === SUMS) sums = await readSums(data);
        else actual.set(name, await measure(data, maybeGzip(name)));
      });
      manifest = scan;
      refusals = scan.refusals;
      present = [...scan.files, MANIFEST];
    } catch (err) {
      // A damaged compressed stream cannot be read past the damage: name the file it hit.
      const e = err as TarReadError;
      await fail(e.entry ?? basename(archive), "corrupt", e.message);
      return summary;
    }
  }

  for (const r of refusals) await fail(r.path, r.problem, r.message);
  const checks = checkManifest(manifest.entries, manifest.errors, basename(archive));
  for (const r of checks) await fail(r.path, r.problem, r.message);
  const refusedEntries = new Set(checks.map((r) => r.path));
  const refusedNames = new Set(refusals.map((r) => r.path));
  if (sums) for (const message of checkSums(sums, manifest.entries)) await fail(SUMS, "sums", message);
  else if (!refusedNames.has(SUMS) && present.includes(MANIFEST)) await fail(SUMS, "missing", `${SUMS}: not in the archive`);

  const expected = new Set<string>([MANIFEST, SUMS]);
  const bases = new Map<string, ManifestEntry[]>();
  for (const e of manifest.entries) {
    summary.files += 1;
    if (refusedEntries.has(e.path)) continue;
    const s = storedPath(e);
    if (e.unchanged_from !== undefined) {
      const list = bases.get(e.unchanged_from) ?? [];
      list.push(e);
      bases.set(e.unchanged_from, list);
      continue;
    }
    expected.add(s);
    const m = actual.get(s);
    const base: VerifyResult = { kind: "archive-verify", archive, path: e.path, stored_as: s, ok: true, size: e.size, sha256: e.sha256 };
    if (!m) {
      if (!refusedNames.has(s)) await report({ ...base, ok: false, problem: "missing", message: `${s}: listed in the manifest but not in the archive` });
      continue;
    }
    if (m.size === -1) continue; // already reported as unreadable
    const bad = compare(e, m);
    await report(bad ? { ...base, ok: false, ...bad } : base);
  }
  for (const name of present) if (!expected.has(name)) await fail(name, "extra", `${name}: in the archive but not in its manifest`);

  // Unchanged files live in an earlier sibling archive: read their bytes there.
  for (const [name, list] of bases) await verifyBase(archive, name, list, report);
  return summary;
}

async function verifyBase(archive: string, name: string, list: ManifestEntry[], report: Report): Promise<void> {
  let path: string;
  try {
    path = basePath(archive, list[0]!);
    await stat(path);
  } catch (err) {
    for (const e of list) {
      await report({ kind: "archive-verify", archive, path: e.path, ok: false, unchanged_from: name, problem: "missing_base", message: `${e.path}: base archive ${name} not found next to ${basename(archive)} (${(err as Error).message})` });
    }
    return;
  }
  const wanted = new Map(list.map((e) => [storedPath(e), e]));
  const seen = new Map<string, Measured>();
  let refusals: Refusal[];
  if ((await archiveKind(path)) === "dir") {
    const tree = await listDirTree(path);
    refusals = tree.refusals;
    const files = new Set(tree.files);
    for (const [s, e] of wanted) if (files.has(s)) seen.set(s, await measure(await openStored(path, s), e.compressed !== undefined, limitsFor(e)));
  } else {
    const scan = await scanTar(path, async (n, data) => {
      const e = wanted.get(n);
      if (e) seen.set(n, await measure(data, maybeGzip(n), limitsFor(e)));
      else data.resume();
    });
    refusals = scan.refusals;
  }
  for (const r of refusals) {
    await report({ kind: "archive-verify", archive, path: r.path, ok: false, unchanged_from: name, problem: r.problem, message: `${r.message} (in base archive ${name})` });
  }
  for (const [s, e] of wanted) {
    const base: VerifyResult = { kind: "archive-verify", archive, path: e.path, stored_as: s, unchanged_from: name, ok: true, size: e.size, sha256: e.sha256 };
    const m = seen.get(s);
    if (!m) {
      await report({ ...base, ok: false, problem: "missing_base", message: `${e.path}: not found as ${s} in base archive ${name}` });
      continue;
    }
    const bad = compare(e, m);
    await report(bad ? { ...base, ok: false, ...bad, message: `${bad.message} (in base archive ${name})` } : base);
  }
}
