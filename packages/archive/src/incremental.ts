import { readdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { type ManifestEntry, storedPath } from "./manifest.ts";
import { archiveKind, readDirManifest, scanTar } from "./reader.ts";

/** Archive names are `<name>-<YYYYMMDDTHHMMSSZ>[.tar.gz|.tar.zst]`: the stamp sorts as text. */
export function archiveNamePattern(name: string): RegExp {
  return new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-\\d{8}T\\d{6}Z(\\.tar\\.(gz|zst))?$`);
}

export async function newestArchive(out: string, name: string): Promise<string | undefined> {
  const re = archiveNamePattern(name);
  const names = (await readdir(out).catch(() => [] as string[])).filter((n) => re.test(n));
  const stamp = (n: string) => n.slice(name.length + 1, name.length + 17);
  names.sort((a, b) => stamp(a).localeCompare(stamp(b)));
  const last = names.pop();
  return last === undefined ? undefined : join(out, last);
}

/** What an earlier archive holds, by archive path: where its bytes really are (following its own references). */
export interface PreviousFile {
  entry: ManifestEntry;
  /** Sibling archive name that holds the bytes. */
  holder: string;
  stored: string;
}

export async function loadPrevious(path: string): Promise<Map<string, PreviousFile>> {
  const kind = await archiveKind(path);
  const { entries, errors } =
    kind === "dir"
      ? await readDirManifest(path)
      : await scanTar(path, async (_name, data) => {
          data.resume();
          await new Promise((r) => data.on("end", r));
        });
  if (errors.length > 0) throw new Error(`previous archive ${path}: ${errors.join("; ")}`);
  const map = new Map<string, PreviousFile>();
  for (const e of entries) map.set(e.path, { entry: e, holder: e.unchanged_from ?? basename(path), stored: storedPath(e) });
  return map;
}
