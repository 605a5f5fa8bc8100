import { type FileHandle, open, unlink } from "node:fs/promises";
import { join } from "node:path";

/** Where one text sits in a ScratchTexts store. */
export interface TextRef {
  at: number;
  length: number;
}

const CHUNK = 1 << 20;

/**
 * Texts (run records as JSON) kept in an unlinked scratch file instead of in memory. A command that
 * must hold a whole sweep before it can write it out (slurm-submit plans over all its input,
 * slurm-poll keeps every tracked run until it ends) needs each record's body only once, to write
 * it; 100,000 records are ~140 MB as text and several times that as objects.
 *
 * Writes are gathered into 1 MiB chunks and queued in order, so `put` and `get` may be called
 * concurrently (a reader waits for the writes it needs). A read going forward from the previous one
 * fetches a 1 MiB window (records are mostly written out in the order they came), any other read
 * just its text. The file is unlinked as soon as it is open: nothing is left behind, even after a
 * kill -9.
 */
export class ScratchTexts {
  /** Bytes queued for the file, and the texts gathered for the next write (at `queued`). */
  private queued = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private window: { at: number; data: Buffer } | undefined;
  private lastEnd = 0;
  /** Writes in flight, in order; a read waits for them. */
  private writing: Promise<void> = Promise.resolve();

  /** Without a file (`inMemory`), texts go into one buffer that doubles when full. */
  private memory = Buffer.alloc(0);
  private constructor(private readonly fh: FileHandle | undefined) {}

  /** A scratch file in `dir` (a directory the command holds locked, so the name cannot clash). */
  static async open(dir: string, name: string): Promise<ScratchTexts> {
    const path = join(dir, `.${name}.${process.pid}.tmp`);
    const fh = await open(path, "w+", 0o600);
    await unlink(path).catch(() => {});
    return new ScratchTexts(fh);
  }

  /** For when no scratch file can be made (dry runs, read-only state): texts stay in memory, still ~3x smaller than objects. */
  static inMemory(): ScratchTexts {
    return new ScratchTexts(undefined);
  }

  put(text: string): TextRef {
    if (!this.fh) return this.toMemory(text);
    const data = Buffer.from(text, "utf8");
    const ref = { at: this.queued + this.pendingBytes, length: data.length };
    this.pending.push(data);
    this.pendingBytes += data.length;
    if (this.pendingBytes >= CHUNK) void this.flush();
    return ref;
  }

  async get(ref: TextRef): Promise<string> {
    if (!this.fh) return this.memory.toString("utf8", ref.at, ref.at + ref.length);
    if (ref.at + ref.length > this.queued) void this.flush();
    await this.writing;
    let win = this.window;
    if (!win || ref.at < win.at || ref.at + ref.length > win.at + win.data.length) {
      const forward = ref.at >= this.lastEnd && ref.at - this.lastEnd < CHUNK;
      win = { at: ref.at, data: await this.read(ref, forward ? Math.max(CHUNK, ref.length) : ref.length) };
      this.window = win;
    }
    this.lastEnd = ref.at + ref.length;
    const start = ref.at - win.at;
    return win.data.toString("utf8", start, start + ref.length);
  }

  async close(): Promise<void> {
    await this.writing.catch(() => {});
    this.pending = [];
    this.memory = Buffer.alloc(0);
    this.window = undefined;
    await this.fh?.close().catch(() => {});
  }

  /** Queues the gathered texts for writing at the end of the file. */
  private flush(): Promise<void> {
    if (!this.fh || this.pending.length === 0) return this.writing;
    const fh = this.fh;
    const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    const at = this.queued;
    this.pending = [];
    this.pendingBytes = 0;
    this.queued += data.length;
    this.writing = this.writing.then(async () => {
      for (let done = 0; done < data.length; ) done += (await fh.write(data, done, data.length - done, at + done)).bytesWritten;
    });
    return this.writing;
  }

  private async read(ref: TextRef, want: number): Promise<Buffer> {
    const size = Math.min(want, this.queued - ref.at);
    const data = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const { bytesRead } = await this.fh!.read(data, got, size - got, ref.at + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got < ref.length) throw new Error(`scratch file: short read at ${ref.at} (${got} of ${ref.length} bytes)`);
    return data.subarray(0, got);
  }

  private toMemory(text: string): TextRef {
    const length = Buffer.byteLength(text, "utf8");
    const at = this.queued;
    if (at + length > this.memory.length) {
      const bigger = Buffer.allocUnsafe(Math.max(CHUNK, 2 * this.memory.length, at + length));
      this.memory.copy(bigger, 0, 0, at);
      this.memory = bigger;
    }
    this.memory.write(text, at, "utf8");
    this.queued += length;
    return { at, length };
  }
}
