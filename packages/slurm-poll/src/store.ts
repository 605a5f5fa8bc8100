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

  async save(tracks: Map<string, Track>, now: Date): Promise<void> {
    const data: StoreFile = { v: 1, updated_at: now.toISOString(), jobs: Object.fromEntries(tracks) };
    await writeFileAtomic(this.path, `${JSON.stringify(data)}\n`);
  }
}
