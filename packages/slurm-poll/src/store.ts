import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "@slurmpipe/core";
import type { Track } from "./track.ts";

/**
 * Poll's own memory, `<state>/poll/jobs.json`, replaced atomically after every cycle: the last
 * state reported per job (so a restarted poll emits no event twice), restart counts, the last time
 * each job was confirmed. slurm-submit's ledger is never written by poll.
 */
export const POLL_DIR = "poll";
export const STORE_FILE = "jobs.json";
/**
 * Under V8's large-object size (128 KiB): a bigger string goes straight to the old generation and
 * stays there until a full GC, ~70 MB of them per save at 100,000 jobs; these die young.
 */
const SAVE_CHUNK = 1 << 16;

interface StoreFile {
  v: 1;
  updated_at: string;
  jobs: Record<string, Track>;
}

export class PollStore {
  readonly path: string;
  constructor(readonly dir: string) {
    this.path = join(dir, STORE_FILE);
  }

  async load(): Promise<Map<string, Track>> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return new Map();
      throw e;
    }
    let data: StoreFile;
    try {
      data = JSON.parse(text) as StoreFile;
    } catch (e) {
      throw new Error(`${this.path}: corrupt poll state (${(e as Error).message}); move it away to start afresh`);
    }
    return new Map(Object.entries(data.jobs ?? {}));
  }

  /**
   * Replaces the file atomically (temp file, fsync, rename, fsync of the directory), written in
   * chunks: the same bytes as `JSON.stringify({v, updated_at, jobs})`, without building one string
   * (and its Buffer) of the whole file, which is ~70 MB at 100,000 jobs.
   */
  async save(tracks: Map<string, Track>, now: Date): Promise<void> {
    await writeFileAtomic(this.path, async (fh) => {
      let chunk = `{"v":1,"updated_at":${JSON.stringify(now.toISOString())},"jobs":{`;
      let first = true;
      for (const [key, track] of tracks) {
        chunk += `${first ? "" : ","}${JSON.stringify(key)}:${JSON.stringify(track)}`;
        first = false;
        if (chunk.length >= SAVE_CHUNK) {
          await fh.writeFile(chunk); // from the current position; loops over short writes
          chunk = "";
        }
      }
      await fh.writeFile(`${chunk}}}\n`);
    });
  }
}
