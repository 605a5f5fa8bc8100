import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { destinationFor } from "./layout.ts";
import { type ManifestEntry, type ParsedManifest, storedPath } from "./manifest.ts";
import { archiveKind, listDirTree, openStored, readDirManifest, scanTar } from "./reader.ts";
import type { Refusal } from "./trust.ts";

/**
 * Uniform access to an archive's stored files, for restore. Opening reads the structure and the
 * manifest and writes nothing: a directory archive is listed (regular files only), a tarball is
 * streamed once to its MANIFEST (the last entry). `each` then streams the stored files asked for;
 * for a tarball that is a second pass, so every file is read knowing the size its manifest entry
 * promises. Nothing is spooled, so nothing a hostile archive holds reaches the disk unchecked.
 */
export interface ArchiveSource {
  path: string;
  kind: "dir" | "tar";
  manifest: ParsedManifest;
  /** Links, devices, FIFOs, unsafe or repeated names found in the archive itself. */
  refusals: Refusal[];
  /** Stored (regular) file names present in the archive. */
  present: Set<string>;
  /** Streams each wanted stored file once through `onFile`, which must consume or abandon it. */
  each(wanted: Set<string>, onFile: (stored: string, data: Readable) => Promise<void>): Promise<void>;
}

/** A stream that fails with `e` once read (its error reaches whoever pipes it, nobody else). */
function failed(e: Error): Readable {
  const r = new Readable({ read: () => r.destroy(e) });
  return r;
}

export async function openArchive(path: string): Promise<ArchiveSource> {
  const kind = await archiveKind(path);
  if (kind === "dir") {
    const tree = await listDirTree(path);
    return {
      path,
      kind,
      manifest: await readDirManifest(path),
      refusals: tree.refusals,
      present: new Set(tree.files),
      each: async (wanted, onFile) => {
        for (const s of wanted) {
          // A file swapped for a link or FIFO since it was listed fails its own restore, not the process.
          const data = await openStored(path, s).catch((e: Error) => failed(e));
          await onFile(s, data);
        }
      },
    };
  }
  const scan = await scanTar(path, async (_name, data) => {
    data.resume();
  });
  return {
    path,
    kind,
    manifest: scan,
    refusals: scan.refusals,
    present: new Set(scan.files),
    each: async (wanted, onFile) => {
      await scanTar(path, async (name, data) => {
        if (wanted.has(name)) await onFile(name, data);
      });
    },
  };
}

/** Path of the earlier archive an `unchanged_from` entry refers to: a sibling of this archive. */
export function basePath(archive: string, entry: ManifestEntry): string {
  const name = entry.unchanged_from!;
  if (name.includes("/") || name === ".." || name === "." || name === "") throw new Error(`unchanged_from ${JSON.stringify(name)} is not a sibling archive name`);
  return join(dirname(archive), name);
}

export { storedPath, destinationFor };
