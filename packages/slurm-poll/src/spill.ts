import { type FileHandle, open, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { RunRecord } from "@slurmpipe/core";

/** Where one record sits in the spill file. */
export interface SpillRef {
  at: number;
  length: number;
}

const CHUNK = 1 << 20;

/**
 * The tracked run records, kept as their JSON text in an unlinked scratch file instead of in
 * memory: poll needs a record's body only when it writes it out (final, or at the end of --once),
 * and 100,000 records are ~140 MB as text and several times that as objects. Writes are gathered
 * into 1 MiB chunks and reads come from a 1 MiB window, so writing the records out in arrival
 * order costs a few hundred reads. The file is unlinked as soon as it is open: nothing is left
 * behind, even after a crash.
 */
export class RecordSpill {
  private size = 0;
  private flushed = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private window: { at: number; data: Buffer } | undefined;
  /** Writes in flight, in order: a read waits for them (stdin is read while a cycle writes records out). */
  private writing: Promise<void> = Promise.resolve();

  private constructor(private readonly fh: FileHandle) {}

  /** A spill file in `dir` (poll's own state directory, which poll holds locked). */
  static async open(dir: string): Promise<RecordSpill> {
    const path = join(dir, `.records.${process.pid}.tmp`);
    const fh = await open(path, "w+", 0o600);
    await unlink(path).catch(() => {});
    return new RecordSpill(fh);
  }

  async put(record: RunRecord): Promise<SpillRef> {
    const data = Buffer.from(JSON.stringify(record));
    const ref = { at: this.size, length: data.length };
    this.size += data.length;
    this.pending.push(data);
    this.pendingBytes += data.length;
    if (this.pendingBytes >= CHUNK) await this.flush();
    return ref;
  }

  async get(ref: SpillRef): Promise<RunRecord> {
    if (ref.at + ref.length > this.flushed) void this.flush();
    await this.writing;
    let win = this.window;
    if (!win || ref.at < win.at || ref.at + ref.length > win.at + win.data.length) {
      const length = Math.min(Math.max(CHUNK, ref.length), this.flushed - ref.at);
      const data = Buffer.allocUnsafe(length);
      const { bytesRead } = await this.fh.read(data, 0, length, ref.at);
      if (bytesRead < ref.length) throw new Error(`record spill file: short read at ${ref.at} (${bytesRead} of ${ref.length} bytes)`);
      win = { at: ref.at, data: data.subarray(0, bytesRead) };
      this.window = win;
    }
    const start = ref.at - win.at;
    return JSON.parse(win.data.toString("utf8", start, start + ref.length)) as RunRecord;
  }

  async close(): Promise<void> {
    await this.writing.catch(() => {});
    this.pending = [];
    this.window = undefined;
    await this.fh.close().catch(() => {});
  }

  /** Queues the gathered records for writing; `flushed` counts queued bytes, `writing` settles when they are on disk. */
  private flush(): Promise<void> {
    if (this.pending.length === 0) return this.writing;
    const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    const at = this.flushed;
    this.flushed += data.length;
    this.writing = this.writing.then(async () => {
      let done = 0;
      while (done < data.length) {
        const { bytesWritten } = await this.fh.write(data, done, data.length - done, at + done);
        done += bytesWritten;
      }
    });
    return this.writing;
  }
}
