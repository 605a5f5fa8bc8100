import type { Writable } from "node:stream";
import { PipeClosedError } from "./errors.ts";

/**
 * Writes one JSON object per line, waiting for 'drain' when the reader is slower (backpressure).
 * When the reader goes away (EPIPE, `| head -1`) further writes throw PipeClosedError, which the
 * CLI shell turns into a quiet exit.
 */
export class NdjsonWriter {
  private closed = false;
  private failure: Error | undefined;

  constructor(private readonly out: Writable | NodeJS.WritableStream = process.stdout) {
    out.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE" || err.code === "ERR_STREAM_DESTROYED") this.closed = true;
      else this.failure = err;
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async write(record: unknown): Promise<void> {
    this.check();
    const ok = this.out.write(`${JSON.stringify(record)}\n`);
    if (!ok) await this.waitDrain();
    this.check();
  }

  /** Writes the raw line (already-serialised JSON) without re-encoding. */
  async writeLine(line: string): Promise<void> {
    this.check();
    if (!this.out.write(line.endsWith("\n") ? line : `${line}\n`)) await this.waitDrain();
    this.check();
  }

  private check(): void {
    if (this.failure) throw this.failure;
    if (this.closed) throw new PipeClosedError();
  }

  private waitDrain(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.out.off("drain", done);
        this.out.off("error", done);
        this.out.off("close", done);
        resolve();
      };
      this.out.on("drain", done);
      this.out.on("error", done);
      this.out.on("close", done);
    });
  }
}
