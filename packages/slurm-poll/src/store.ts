import { open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { type StringPool, writeFileAtomic } from "@slurmpipe/core";
import { type Track, shareStrings } from "./track.ts";

/**
 * Poll's own memory, `<state>/poll/jobs.json`, replaced atomically after every cycle: the last
 * state reported per job (so a restarted poll emits no event twice), restart counts, the last time
 * each job was confirmed. slurm-submit's ledger is never written by poll.
 *
 * One job per line (still one JSON document), so it is read a job at a time:
 *   {"v":1,"updated_at":"...","jobs":{
 *   "<store key>":{...track...},
 *   "<store key>":{...track...}
 *   }}
 * Any other layout (a file from an older poll, or edited by hand) is read whole.
 */
export const POLL_DIR = "poll";
export const STORE_FILE = "jobs.json";
/**
 * Under V8's large-object size (128 KiB): a bigger string goes straight to the old generation and
 * stays there until a full GC, ~70 MB of them per save at 100,000 jobs; these die young.
 */
const SAVE_CHUNK = 1 << 16;
const JOBS_OPEN = '"jobs":{';
const JOBS_CLOSE = "}}";

interface StoreFile {
  v: 1;
  updated_at: string;
  jobs: Record<string, Track>;
}

export class PollStore {
  readonly path: string;
  /** Throws when this process may no longer write the state (its lock was taken over). */
  guard: () => void = () => {};
  constructor(readonly dir: string) {
    this.path = join(dir, STORE_FILE);
  }

  /** The saved tracks; with a pool, they share its strings (see shareStrings). */
  async load(pool?: StringPool): Promise<Map<string, Track>> {
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(this.path, "r");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return new Map();
      throw e;
    }
    try {
      const head = Buffer.alloc(4096);
      const { bytesRead } = await fh.read(head, 0, head.length, 0);
      const firstLine = head.toString("utf8", 0, bytesRead).split("\n", 1)[0]!;
      if (firstLine.length < bytesRead && firstLine.endsWith(JOBS_OPEN) && parses(`${firstLine}${JOBS_CLOSE}`)) return await this.loadLines(fh, pool);
    } finally {
      await fh.close().catch(() => {});
    }
    return this.loadWhole(pool);
  }

  /** The one-job-per-line layout `save` writes: never the whole file (~70 MB at 100,000 jobs) in memory. */
  private async loadLines(fh: Awaited<ReturnType<typeof open>>, pool: StringPool | undefined): Promise<Map<string, Track>> {
    const tracks = new Map<string, Track>();
    const lines = createInterface({ input: fh.createReadStream({ encoding: "utf8", start: 0, autoClose: false }), crlfDelay: Number.POSITIVE_INFINITY });
    let number = 0;
    let closed = false;
    for await (const line of lines) {
      number += 1;
      if (number === 1 || line.trim() === "") continue;
      if (closed) throw this.corrupt(`line ${number}: text after the end of "jobs"`);
      if (line === JOBS_CLOSE) {
        closed = true;
        continue;
      }
      let entry: Record<string, Track>;
      try {
        entry = JSON.parse(`{${line.endsWith(",") ? line.slice(0, -1) : line}}`) as Record<string, Track>;
      } catch (e) {
        throw this.corrupt(`line ${number}: ${(e as Error).message}`);
      }
      for (const key of Object.keys(entry)) tracks.set(key, pool ? shareStrings(entry[key]!, pool) : entry[key]!);
    }
    if (!closed) throw this.corrupt(`the file ends before "jobs" does (line ${number})`);
    return tracks;
  }

  private async loadWhole(pool: StringPool | undefined): Promise<Map<string, Track>> {
    const text = await readFile(this.path, "utf8");
    let data: StoreFile;
    try {
      data = JSON.parse(text) as StoreFile;
    } catch (e) {
      throw this.corrupt((e as Error).message);
    }
    const tracks = new Map(Object.entries(data.jobs ?? {}));
    if (pool) for (const t of tracks.values()) shareStrings(t, pool);
    return tracks;
  }

  private corrupt(why: string): Error {
    return new Error(`${this.path}: corrupt poll state (${why}); move it away to start afresh`);
  }

  /**
   * Replaces the file atomically (temp file, fsync, rename, fsync of the directory), written in
   * chunks, one job per line, without building one string (and its Buffer) of the whole file.
   */
  async save(tracks: Map<string, Track>, now: Date): Promise<void> {
    this.guard();
    await writeFileAtomic(this.path, async (fh) => {
      let chunk = `{"v":1,"updated_at":${JSON.stringify(now.toISOString())},${JOBS_OPEN}\n`;
      let first = true;
      for (const [key, track] of tracks) {
        chunk += `${first ? "" : ",\n"}${JSON.stringify(key)}:${JSON.stringify(track)}`;
        first = false;
        if (chunk.length >= SAVE_CHUNK) {
          await fh.writeFile(chunk); // from the current position; loops over short writes
          chunk = "";
        }
      }
      await fh.writeFile(`${chunk}${first ? "" : "\n"}${JOBS_CLOSE}\n`);
    });
  }
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
