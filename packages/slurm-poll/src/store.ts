import { type FileHandle, open, unlink } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { InputError, NdjsonWriter, type StringPool, readNdjson, writeFileAtomic } from "@slurmpipe/core";
import { LEGACY_STORE_FILE, corrupt, loadLegacyStore } from "./legacy-store.ts";
import { type Track, shareStrings } from "./track.ts";

/**
 * Poll's own memory, `<state>/poll/jobs.ndjson`, replaced atomically after every cycle: the last
 * state reported per job (so a restarted poll emits no event twice), restart counts, the last time
 * each job was confirmed. slurm-submit's ledger is never written by poll.
 *
 * NDJSON, one job per line, so it is written and read a job at a time with core's NDJSON code
 * (never one string of the whole file: ~70 MB at 100,000 jobs):
 *   {"v":1,"store_key":"<job>|<run id>|<attempt>","track":{...}}
 * A state directory of an earlier release has `jobs.json` instead (legacy-store.ts): it is read
 * on first use, written out as jobs.ndjson, then removed.
 */
export const POLL_DIR = "poll";
export const STORE_FILE = "jobs.ndjson";
/**
 * Bytes the writer buffers before it waits for the disk. Each line is its own small string (they
 * die young); a buffer of the whole file would go straight to V8's old generation.
 */
const WRITE_BUFFER = 1 << 16;

/** One line of jobs.ndjson. The store key is kept as written: it is not always derivable from the track. */
interface StoreLine {
  v: 1;
  store_key: string;
  track: Track;
}

export class PollStore {
  readonly path: string;
  /** The file of earlier releases, migrated on first use. */
  readonly legacyPath: string;
  /** Throws when this process may no longer write the state (its lock was taken over). */
  guard: () => void = () => {};
  constructor(readonly dir: string) {
    this.path = join(dir, STORE_FILE);
    this.legacyPath = join(dir, LEGACY_STORE_FILE);
  }

  /** The saved tracks; with a pool, they share its strings (see shareStrings). */
  async load(pool?: StringPool): Promise<Map<string, Track>> {
    const tracks = await this.loadLines(pool);
    if (tracks) {
      // Both files: a migration stopped between its two steps. The new file is the newer state.
      await this.removeLegacy();
      return tracks;
    }
    const legacy = await loadLegacyStore(this.legacyPath, pool);
    if (!legacy) return new Map();
    // The new file first, then the old one goes: a crash in between leaves both, read as above.
    await this.save(legacy);
    await this.removeLegacy();
    return legacy;
  }

  /** jobs.ndjson a line at a time; undefined when there is none. */
  private async loadLines(pool: StringPool | undefined): Promise<Map<string, Track> | undefined> {
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(this.path, "r");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
    const input = fh.createReadStream(); // closes fh when it ends or is destroyed
    const tracks = new Map<string, Track>();
    try {
      for await (const { value, line } of readNdjson<StoreLine>(input, { source: this.path, strict: true })) {
        const track = value.track;
        if (typeof value.store_key !== "string" || typeof track !== "object" || track === null || typeof track.key !== "string") {
          throw corrupt(this.path, `line ${line}: not a job of the poll store`);
        }
        tracks.set(value.store_key, pool ? shareStrings(track, pool) : track);
      }
    } catch (e) {
      if (e instanceof InputError) throw corrupt(this.path, `line ${e.detail.line}: ${e.detail.message}`);
      throw e;
    } finally {
      input.destroy();
    }
    return tracks;
  }

  private async removeLegacy(): Promise<void> {
    this.guard();
    await unlink(this.legacyPath).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT") throw e;
    });
  }

  /**
   * Replaces the file atomically (temp file, fsync, rename, fsync of the directory), one line per
   * job through core's NdjsonWriter, which waits for the disk when its buffer is full.
   */
  async save(tracks: Map<string, Track>): Promise<void> {
    this.guard();
    await writeFileAtomic(this.path, async (fh) => {
      const stream = appender(fh);
      const out = new NdjsonWriter(stream);
      try {
        for (const [key, track] of tracks) await out.write({ v: 1, store_key: key, track } satisfies StoreLine);
        await new Promise<void>((resolve, reject) => stream.end((e?: Error | null) => (e ? reject(e) : resolve())));
      } catch (e) {
        stream.destroy();
        throw e;
      }
    });
  }
}

/**
 * A Writable that appends to the temp file's handle, which writeFileAtomic then syncs and closes.
 * (Node's own fh.createWriteStream cannot be used: its handle does not close while the stream is
 * alive, and ending the stream closes the handle before the sync.) Lines buffered while a write
 * is under way go out together in the next one.
 */
function appender(fh: FileHandle): Writable {
  return new Writable({
    highWaterMark: WRITE_BUFFER,
    // fh.writeFile writes from the current position and loops over short writes.
    write(chunk: Buffer, _encoding, done) {
      fh.writeFile(chunk).then(() => done(), done);
    },
    writev(chunks, done) {
      fh.writeFile(Buffer.concat(chunks.map((c) => c.chunk as Buffer))).then(() => done(), done);
    },
  });
}
