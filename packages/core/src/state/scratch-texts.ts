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
 * Texts are gathered in one reused 1 MiB buffer; when it is full, `put` waits until it is written,
 * so input arriving through a pipe faster than the disk takes it never queues up in memory. A
 * read going forward from the previous one fetches a 1 MiB window (records are mostly written out
 * in the order they came), any other read just its text. Calls may overlap (poll reads stdin while
 * a cycle writes records out): the buffer is never touched while it is being written, and a read
 * waits for the write it needs. The file is unlinked as soon as it is open: nothing is left
 * behind, even after a kill -9.
 */
export class ScratchTexts {
  /** Bytes in the file, and the texts gathered for the next write (at `size`). */
  private size = 0;
  private pending = Buffer.allocUnsafe(CHUNK);
  private pendingBytes = 0;
  /** The write of `pending` in flight, if any; `put` and `get` wait for it. */
  private writing: Promise<void> | undefined;
  private window: { at: number; data: Buffer } | undefined;
  private lastEnd = 0;

  /** Without a file (`inMemory`), `pending` holds every text and grows. */
  private constructor(private readonly fh: FileHandle | undefined) {}

  /** A scratch file in `dir` (a directory the command holds locked, or a temp dir, so the name cannot clash). */
  static async open(dir: string, name: string): Promise<ScratchTexts> {
    const path = join(dir, `.${name}.${process.pid}.tmp`);
    const fh = await open(path, "w+", 0o600);
    await unlink(path).catch(() => {});
    return new ScratchTexts(fh);
  }

  /** For when no scratch file can be made: texts stay in memory, still ~3x smaller than objects. */
  static inMemory(): ScratchTexts {
    return new ScratchTexts(undefined);
  }

  async put(text: string): Promise<TextRef> {
    const length = Buffer.byteLength(text, "utf8");
    for (;;) {
      while (this.writing) await this.writing;
      if (this.pendingBytes + length <= this.pending.length) break;
      if (this.fh && this.pendingBytes > 0) {
        await this.flush();
        continue;
      }
      // In memory, or one text larger than the buffer: grow it.
      const bigger = Buffer.allocUnsafe(Math.max(2 * this.pending.length, this.pendingBytes + length));
      this.pending.copy(bigger, 0, 0, this.pendingBytes);
      this.pending = bigger;
    }
    const ref = { at: this.size + this.pendingBytes, length };
    this.pending.write(text, this.pendingBytes, "utf8");
    this.pendingBytes += length;
    return ref;
  }

  async get(ref: TextRef): Promise<string> {
    if (!this.fh) return this.pending.toString("utf8", ref.at, ref.at + ref.length);
    while (ref.at + ref.length > this.size) {
      if (!this.writing && ref.at + ref.length > this.size + this.pendingBytes) throw new Error(`scratch file: no text at ${ref.at}+${ref.length}`);
      await this.flush();
    }
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
    while (this.writing) await this.writing.catch(() => {});
    this.pending = Buffer.alloc(0);
    this.pendingBytes = 0;
    this.window = undefined;
    await this.fh?.close().catch(() => {});
  }

  /** Writes the gathered texts at the end of the file (or waits for the write in flight). */
  private flush(): Promise<void> {
    if (this.writing) return this.writing;
    if (!this.fh || this.pendingBytes === 0) return Promise.resolve();
    const fh = this.fh;
    const n = this.pendingBytes;
    this.writing = (async () => {
      try {
        for (let done = 0; done < n; ) done += (await fh.write(this.pending, done, n - done, this.size + done)).bytesWritten;
        this.size += n;
        this.pendingBytes = 0;
      } finally {
        this.writing = undefined;
      }
    })();
    return this.writing;
  }

  private async read(ref: TextRef, want: number): Promise<Buffer> {
    const size = Math.min(want, this.size - ref.at);
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
}
