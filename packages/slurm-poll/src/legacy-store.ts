import { open, readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import type { StringPool } from "@slurmpipe/core";
import { type Track, shareStrings } from "./track.ts";

/**
 * The poll store of earlier releases, `<state>/poll/jobs.json`: one JSON document, read only to
 * migrate a state directory to jobs.ndjson (store.ts writes the new file, then removes this one).
 * Two layouts were written, and both are read:
 *   - one job per line (the last release), read a line at a time (~70 MB at 100,000 jobs):
 *       {"v":1,"updated_at":"...","jobs":{
 *       "<store key>":{...track...},
 *       "<store key>":{...track...}
 *       }}
 *   - anything else that parses (one line from an older poll, or edited by hand), read whole.
 */
export const LEGACY_STORE_FILE = "jobs.json";
const JOBS_OPEN = '"jobs":{';
const JOBS_CLOSE = "}}";

/** The tracks of an old jobs.json, or undefined when there is none. */
export async function loadLegacyStore(path: string, pool?: StringPool): Promise<Map<string, Track> | undefined> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, "r");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  try {
    const head = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    const firstLine = head.toString("utf8", 0, bytesRead).split("\n", 1)[0]!;
    if (firstLine.length < bytesRead && firstLine.endsWith(JOBS_OPEN) && parses(`${firstLine}${JOBS_CLOSE}`)) return await loadLines(path, fh, pool);
  } finally {
    await fh.close().catch(() => {});
  }
  return loadWhole(path, pool);
}

async function loadLines(path: string, fh: Awaited<ReturnType<typeof open>>, pool: StringPool | undefined): Promise<Map<string, Track>> {
  const tracks = new Map<string, Track>();
  const lines = createInterface({ input: fh.createReadStream({ encoding: "utf8", start: 0, autoClose: false }), crlfDelay: Number.POSITIVE_INFINITY });
  let number = 0;
  let closed = false;
  for await (const line of lines) {
    number += 1;
    if (number === 1 || line.trim() === "") continue;
    if (closed) throw corrupt(path, `line ${number}: text after the end of "jobs"`);
    if (line === JOBS_CLOSE) {
      closed = true;
      continue;
    }
    let entry: Record<string, Track>;
    try {
      entry = JSON.parse(`{${line.endsWith(",") ? line.slice(0, -1) : line}}`) as Record<string, Track>;
    } catch (e) {
      throw corrupt(path, `line ${number}: ${(e as Error).message}`);
    }
    for (const key of Object.keys(entry)) tracks.set(key, pool ? shareStrings(entry[key]!, pool) : entry[key]!);
  }
  if (!closed) throw corrupt(path, `the file ends before "jobs" does (line ${number})`);
  return tracks;
}

async function loadWhole(path: string, pool: StringPool | undefined): Promise<Map<string, Track>> {
  const text = await readFile(path, "utf8");
  let data: { jobs?: Record<string, Track> };
  try {
    data = JSON.parse(text) as { jobs?: Record<string, Track> };
  } catch (e) {
    throw corrupt(path, (e as Error).message);
  }
  const tracks = new Map(Object.entries(data.jobs ?? {}));
  if (pool) for (const t of tracks.values()) shareStrings(t, pool);
  return tracks;
}

export function corrupt(path: string, why: string): Error {
  return new Error(`${path}: corrupt poll state (${why}); move it away to start afresh`);
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
