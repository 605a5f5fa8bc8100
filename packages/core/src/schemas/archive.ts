import * as z from "zod";
import { schemaVersion } from "./common.ts";

/** One archived file, as listed in MANIFEST.ndjson and emitted on stdout by `archive`. */
export const ArchiveEntry = z.looseObject({
  kind: z.literal("archive-entry"),
  v: schemaVersion,
  /** Path inside the archive, relative, with forward slashes. */
  path: z.string().min(1),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  run_id: z.string().optional(),
  /** What the file is: checkpoint, log, metrics, config, other. */
  role: z.string().optional(),
  /** Set when the file is stored compressed on its own (e.g. "zstd", "gzip"); sha256 is of the original. */
  compressed: z.string().optional(),
  stored_as: z.string().optional(),
  source: z.string().optional(),
  mtime_ms: z.number().optional(),
});
export type ArchiveEntry = z.infer<typeof ArchiveEntry>;
