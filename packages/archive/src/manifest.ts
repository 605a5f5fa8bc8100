import { ArchiveEntry as CoreArchiveEntry, readNdjson } from "@slurmpipe/core";
import * as z from "zod";

export const MANIFEST = "MANIFEST.ndjson";
export const SUMS = "SHA256SUMS";

/** core's ArchiveEntry plus what verify/restore/incremental need. Loose: unknown fields pass through. */
export const ManifestEntry = CoreArchiveEntry.extend({
  /** Bytes as stored (differs from size when compressed). */
  stored_size: z.number().int().nonnegative().optional(),
  /** sha256 of the stored bytes (what `sha256sum -c SHA256SUMS` checks). */
  stored_sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  /** Permission bits of the source file. */
  mode: z.number().int().nonnegative().optional(),
  /** Not stored here: unchanged since this earlier archive (a sibling of this one), which holds the bytes. */
  unchanged_from: z.string().optional(),
  run_name: z.string().optional(),
  /** A log: the attempt of the run that wrote it (1 = the first submission), and that attempt's job. */
  attempt: z.number().int().positive().optional(),
  job_id: z.string().optional(),
  archive: z.string().optional(),
});
export type ManifestEntry = z.infer<typeof ManifestEntry>;

/** Where an entry's bytes are inside its archive. */
export const storedPath = (e: ManifestEntry): string => e.stored_as ?? e.path;

export interface ParsedManifest {
  entries: ManifestEntry[];
  errors: string[];
}

/** Parses MANIFEST.ndjson text or stream; a bad line is an error naming the line, the rest still count. */
export async function parseManifest(input: AsyncIterable<Buffer | string>, source: string): Promise<ParsedManifest> {
  const entries: ManifestEntry[] = [];
  const errors: string[] = [];
  for await (const item of readNdjson(input, {
    source,
    schema: ManifestEntry,
    onError: (e) => errors.push(`${e.source}:${e.line}: ${e.field ? `field "${e.field}": ` : ""}${e.message}`),
  })) {
    entries.push(item.value);
  }
  return { entries, errors };
}
