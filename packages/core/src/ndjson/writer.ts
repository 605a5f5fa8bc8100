import { randomUUID } from "node:crypto";
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

  /**
   * Writes `record` with its field `field` given as JSON text already (`json`, as JSON.stringify
   * wrote it), in the field's place: a large field (log-parse's report, also kept in the report
   * cache) is serialised once, not once per destination (bench 8: a fifth of a cron tick).
   */
  async writeWith(record: Record<string, unknown>, field: string, json: string): Promise<void> {
    // The field is written as a marker string, then the marker's JSON is replaced by `json`: a
    // random marker no other value of the record can hold.
    const marker = `\u0000${randomUUID()}`;
    const target = field in record ? record : { ...record, [field]: null };
    const line = JSON.stringify(target, function (this: unknown, key: string, value: unknown) {
      return this === target && key === field ? marker : value;
    });
    const quoted = JSON.stringify(marker);
    const at = line.indexOf(quoted);
    await this.writeLine(at < 0 ? line : `${line.slice(0, at)}${json}${line.slice(at + quoted.length)}`);
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
