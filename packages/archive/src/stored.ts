import { createReadStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { createWriteStream } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { destinationFor } from "./layout.ts";
import { type ParsedManifest, storedPath, type ManifestEntry } from "./manifest.ts";
import { archiveKind, listDirFiles, openStored, readDirManifest, scanTar } from "./reader.ts";

/**
 * Uniform access to an archive's stored files. A directory archive is read in place; a tarball is
 * streamed once and the files we need are spooled to a scratch directory (its MANIFEST is the
 * last entry, so what to keep is only known by name until then).
 */
export interface OpenedArchive {
  path: string;
  kind: "dir" | "tar";
  manifest: ParsedManifest;
  /** Stored file names present in the archive (all of them for a directory; the spooled ones for a tar). */
  present: Set<string>;
  open(stored: string): Readable;
  close(): Promise<void>;
}

export async function openArchive(path: string, scratch: string, want: (stored: string) => boolean): Promise<OpenedArchive> {
  const kind = await archiveKind(path);
  if (kind === "dir") {
    const manifest = await readDirManifest(path);
    return { path, kind, manifest, present: new Set(await listDirFiles(path)), open: (s) => openStored(path, s), close: async () => {} };
  }
  const dir = join(scratch, `.sp-spool-${process.pid}-${basename(path)}`);
  await mkdir(dir, { recursive: true });
  const spooled = new Map<string, string>();
  const present = new Set<string>();
  try {
    const manifest = await scanTar(path, async (name, data) => {
      present.add(name);
      if (!want(name)) {
        data.resume();
        await new Promise((r) => data.on("end", r));
        return;
      }
      const tmp = join(dir, String(spooled.size));
      spooled.set(name, tmp);
      await pipeline(data, createWriteStream(tmp, { flags: "wx" }));
    });
    return {
      path,
      kind,
      manifest,
      present,
      open: (s) => {
        const tmp = spooled.get(s);
        if (!tmp) throw new Error(`${path}: ${s} not spooled`);
        return createReadStream(tmp);
      },
      close: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/** Path of the earlier archive an `unchanged_from` entry refers to: a sibling of this archive. */
export function basePath(archive: string, entry: ManifestEntry): string {
  const name = entry.unchanged_from!;
  if (name.includes("/") || name === ".." || name === ".") throw new Error(`unchanged_from ${JSON.stringify(name)} is not a sibling archive name`);
  return join(dirname(archive), name);
}

export { storedPath, destinationFor };
