import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Readable } from "node:stream";
import { type ManifestEntry, MANIFEST, SUMS, storedPath } from "./manifest.ts";
import { type Measured, measure } from "./streams.ts";
import { type TarReadError, archiveKind, listDirFiles, readDirManifest, scanTar } from "./reader.ts";
import { destinationFor } from "./layout.ts";
import { basePath } from "./stored.ts";

export interface VerifyResult {
  kind: "archive-verify";
  archive: string;
  path: string;
  stored_as?: string;
  ok: boolean;
  problem?: "missing" | "extra" | "size_mismatch" | "sha256_mismatch" | "corrupt" | "missing_base" | "manifest";
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
  if (entry.compressed !== undefined) {
    if (entry.compressed !== "gzip") return { problem: "corrupt", message: `${stored}: unsupported per-file compression ${entry.compressed}` };
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

/** Reads every stored byte of `archive` (dir or tarball) and checks it against its MANIFEST. */
export async function verifyArchive(archive: string, onResult: (r: VerifyResult) => Promise<void> | void): Promise<VerifySummary> {
  const summary: VerifySummary = { kind: "archive-verify-summary", archive, ok: true, files: 0, failed: 0, missing: 0, extra: 0 };
  const report = async (r: VerifyResult) => {
    if (!r.ok) {
      summary.failed += 1;
      summary.ok = false;
      if (r.problem === "missing") summary.missing += 1;
      if (r.problem === "extra") summary.extra += 1;
    }
    await onResult(r);
  };
  const kind = await archiveKind(archive);
  let entries: ManifestEntry[];
  let errors: string[];
  const actual = new Map<string, Measured>();
  let present: string[];
  if (kind === "dir") {
    ({ entries, errors } = await readDirManifest(archive));
    present = await listDirFiles(archive);
    const presentSet = new Set(present);
    for (const e of entries) {
      const s = storedPath(e);
      if (e.unchanged_from !== undefined || !presentSet.has(s)) continue;
      try {
        actual.set(s, await measure(createReadStream(destinationFor(archive, s)), e.compressed !== undefined));
      } catch (err) {
        await report({ kind: "archive-verify", archive, path: e.path, stored_as: s, ok: false, problem: "corrupt", message: `${s}: ${(err as Error).message}` });
        actual.set(s, { size: -1, sha256: "", gunzipError: "unreadable" });
      }
    }
  } else {
    present = [];
    try {
      ({ entries, errors } = await scanTar(archive, async (name, data: Readable) => {
        present.push(name);
        actual.set(name, await measure(data, maybeGzip(name)));
      }));
    } catch (err) {
      // A damaged compressed stream cannot be read past the damage: name the file it hit.
      const e = err as TarReadError;
      await report({ kind: "archive-verify", archive, path: e.entry ?? basename(archive), ok: false, problem: "corrupt", message: e.message });
      return summary;
    }
    present.push(MANIFEST);
  }
  for (const message of errors) await report({ kind: "archive-verify", archive, path: MANIFEST, ok: false, problem: "manifest", message });

  const expected = new Set<string>([MANIFEST, SUMS]);
  const bases = new Map<string, ManifestEntry[]>();
  for (const e of entries) {
    summary.files += 1;
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
      await report({ ...base, ok: false, problem: "missing", message: `${s}: listed in the manifest but not in the archive` });
      continue;
    }
    if (m.size === -1) continue; // already reported as unreadable
    const bad = compare(e, m);
    await report(bad ? { ...base, ok: false, ...bad } : base);
  }
  for (const name of present) {
    if (!expected.has(name)) await report({ kind: "archive-verify", archive, path: name, ok: false, problem: "extra", message: `${name}: in the archive but not in its manifest` });
  }

  // Unchanged files live in an earlier sibling archive: read their bytes there.
  for (const [name, list] of bases) {
    let basePathName: string;
    try {
      basePathName = basePath(archive, list[0]!);
      await stat(basePathName);
    } catch (err) {
      for (const e of list) {
        await report({ kind: "archive-verify", archive, path: e.path, ok: false, unchanged_from: name, problem: "missing_base", message: `${e.path}: base archive ${name} not found next to ${basename(archive)} (${(err as Error).message})` });
      }
      continue;
    }
    const wanted = new Map(list.map((e) => [storedPath(e), e]));
    const seen = new Map<string, Measured>();
    if ((await archiveKind(basePathName)) === "dir") {
      for (const [s, e] of wanted) {
        const exists = await stat(join(basePathName, s)).catch(() => undefined);
        if (exists) seen.set(s, await measure(createReadStream(destinationFor(basePathName, s)), e.compressed !== undefined));
      }
    } else {
      await scanTar(basePathName, async (n, data) => {
        if (wanted.has(n)) seen.set(n, await measure(data, maybeGzip(n)));
        else {
          data.resume();
          await new Promise((r) => data.on("end", r));
        }
      });
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
  return summary;
}
