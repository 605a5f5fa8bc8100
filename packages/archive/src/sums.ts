import { splitLines } from "@slurmpipe/core";
import { type ManifestEntry, SUMS, storedPath } from "./manifest.ts";

/** A SHA256SUMS line: `<64 hex>  <path>` (text mode) or `<64 hex> *<path>` (sha256sum -b). */
const LINE = /^([0-9a-f]{64}) [ *](.+)$/;
/** A SUMS line is a hash and an archive path: anything much longer is not one. */
const MAX_LINE = 64 * 1024;
/** Enough to say what is wrong without a hostile file flooding the report. */
const MAX_PROBLEMS = 20;

export interface ParsedSums {
  hashes: Map<string, string>;
  problems: string[];
}

/** Parses SHA256SUMS in constant memory per line; bad, oversize and repeated lines are problems naming the line. */
export async function readSums(input: AsyncIterable<Buffer | string>): Promise<ParsedSums> {
  const hashes = new Map<string, string>();
  const problems: string[] = [];
  let more = 0;
  const problem = (text: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push(text);
    else more += 1;
  };
  for await (const line of splitLines(input, MAX_LINE)) {
    if (line.oversize !== undefined) {
      problem(`${SUMS}:${line.number}: line of ${line.oversize} bytes is not a checksum line`);
      continue;
    }
    if (line.text === "") continue;
    const m = LINE.exec(line.text);
    if (!m) {
      problem(`${SUMS}:${line.number}: not "<sha256>  <path>": ${JSON.stringify(line.text.slice(0, 80))}`);
      continue;
    }
    const [, hash, path] = m as unknown as [string, string, string];
    if (hashes.has(path)) problem(`${SUMS}:${line.number}: ${path} listed twice`);
    hashes.set(path, hash);
  }
  if (more > 0) problems.push(`${SUMS}: ${more} more problem(s)`);
  return { hashes, problems };
}

/**
 * SHA256SUMS must list exactly the files stored in this archive with the manifest's hashes of
 * their stored bytes. Verify compares those bytes with the manifest, so a SUMS that agrees with
 * the manifest also agrees with the bytes, and `sha256sum -c SHA256SUMS` tells the same story.
 */
export function checkSums(sums: ParsedSums, entries: ManifestEntry[]): string[] {
  const problems = [...sums.problems];
  const expected = new Map<string, string>();
  for (const e of entries) if (e.unchanged_from === undefined) expected.set(storedPath(e), e.stored_sha256 ?? e.sha256);
  const add = (text: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push(text);
  };
  for (const [path, hash] of expected) {
    const listed = sums.hashes.get(path);
    if (listed === undefined) add(`${SUMS}: ${path} is in the manifest but not listed`);
    else if (listed !== hash) add(`${SUMS}: ${path}: ${listed} differs from the manifest's ${hash}`);
  }
  for (const path of sums.hashes.keys()) if (!expected.has(path)) add(`${SUMS}: ${path} is listed but not stored in this archive`);
  return problems;
}
