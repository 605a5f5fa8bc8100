import { createHash, type Hash } from "node:crypto";
import { Transform, type Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";

/** A pass-through that hashes and counts what flows by: one read of a file gives both its copy and its checksum. */
export class HashTap extends Transform {
  readonly hash: Hash = createHash("sha256");
  bytes = 0;
  constructor(private readonly onBytes?: (bytes: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null, data?: Buffer) => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onBytes?.(this.bytes);
    done(null, chunk);
  }
  digest(): string {
    return this.hash.digest("hex");
  }
}

/** A sink that only hashes (for verifying without writing anything). */
export class HashSink extends Writable {
  readonly hash: Hash = createHash("sha256");
  bytes = 0;
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done();
  }
  digest(): string {
    return this.hash.digest("hex");
  }
}

export interface Measured {
  size: number;
  sha256: string;
  /** Size and sha256 after gunzip, when asked for and the data was valid gzip. */
  original?: { size: number; sha256: string };
  /** Why gunzip failed, when it did. */
  gunzipError?: string;
}

/**
 * Hashes a stream of stored bytes, and when `gunzip` is set also the bytes it decompresses to, in
 * the same single pass (the decompressor is fed from the same chunks, with backpressure), so a
 * compressed multi-GB checkpoint is checked in constant memory without a temporary file.
 */
export async function measure(input: Readable, gunzip: boolean): Promise<Measured> {
  const stored = new HashSink();
  if (!gunzip) {
    await pipeline(input, stored);
    return { size: stored.bytes, sha256: stored.digest() };
  }
  const original = new HashSink();
  const inflater = createGunzip();
  let gunzipError: string | undefined;
  const inflated = pipeline(inflater, original).catch((e: Error) => {
    gunzipError = e.message;
  });
  const feed = new Writable({
    write(chunk: Buffer, _enc, done) {
      stored.hash.update(chunk);
      stored.bytes += chunk.length;
      if (gunzipError !== undefined) return done();
      if (inflater.write(chunk)) return done();
      // Wait for the decompressor, but do not hang on one that already failed.
      const go = () => {
        inflater.off("drain", go);
        inflater.off("close", go);
        done();
      };
      inflater.on("drain", go);
      inflater.on("close", go);
    },
    final(done) {
      if (gunzipError === undefined) inflater.end();
      done();
    },
  });
  await pipeline(input, feed);
  await inflated;
  const result: Measured = { size: stored.bytes, sha256: stored.digest() };
  if (gunzipError !== undefined) result.gunzipError = gunzipError;
  else result.original = { size: original.bytes, sha256: original.digest() };
  return result;
}
