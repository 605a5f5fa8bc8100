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

/** A stream carried more bytes than its manifest entry says it has. */
export class OverLimitError extends Error {
  readonly code = "EOVERLIMIT";
  constructor(readonly limit: number) {
    super(`more than the ${limit} bytes the manifest says`);
    this.name = "OverLimitError";
  }
}

/**
 * Passes at most `limit` bytes and fails on the next one. It sits right behind every source whose
 * size a manifest promises, so a lying entry (a gzip bomb, a sparse file) costs at most that much
 * work and disk, never what it would inflate to.
 */
export class SizeLimit extends Transform {
  bytes = 0;
  constructor(readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) done(new OverLimitError(this.limit));
    else done(null, chunk);
  }
}

export interface Measured {
  size: number;
  sha256: string;
  /** Size and sha256 after gunzip, when asked for and the data was valid gzip. */
  original?: { size: number; sha256: string };
  /** Why gunzip failed, when it did. */
  gunzipError?: string;
  /** Reading stopped because the stored bytes, or what they inflate to, passed the given limit. */
  over?: "stored" | "original";
}

/** Manifest sizes to stop at: the stored bytes, and what they inflate to. */
export interface Limits {
  stored?: number;
  original?: number;
}

const isOver = (e: unknown) => (e as { code?: string }).code === "EOVERLIMIT";

/**
 * Hashes a stream of stored bytes, and when `gunzip` is set also the bytes it decompresses to, in
 * the same single pass (the decompressor is fed from the same chunks, with backpressure), so a
 * compressed multi-GB checkpoint is checked in constant memory without a temporary file.
 */
export async function measure(input: Readable, gunzip: boolean, limits: Limits = {}): Promise<Measured> {
  const stored = new HashSink();
  const storedLimit = limits.stored ?? Number.POSITIVE_INFINITY;
  if (!gunzip) {
    try {
      await pipeline(input, new SizeLimit(storedLimit), stored);
    } catch (e) {
      if (!isOver(e)) throw e;
      input.destroy();
      return { size: stored.bytes, sha256: "", over: "stored" };
    }
    return { size: stored.bytes, sha256: stored.digest() };
  }
  const original = new HashSink();
  const inflater = createGunzip();
  let gunzipError: string | undefined;
  let over: Measured["over"];
  const inflated = pipeline(inflater, new SizeLimit(limits.original ?? Number.POSITIVE_INFINITY), original).catch((e: Error) => {
    if (isOver(e)) over = "original";
    gunzipError = e.message;
  });
  const feed = new Writable({
    write(chunk: Buffer, _enc, done) {
      stored.hash.update(chunk);
      stored.bytes += chunk.length;
      if (stored.bytes > storedLimit) return done(new OverLimitError(storedLimit));
      // Past a gunzip failure (or the inflate limit) the rest is only hashed, never inflated. The
      // pipeline above destroys the decompressor before its catch sets gunzipError (a microtask
      // later): a destroyed one is as good as failed, and waiting for its drain or close, both
      // already past, would never end.
      if (gunzipError !== undefined || inflater.destroyed) return done();
      if (inflater.write(chunk)) return done();
      // Wait for the decompressor, but do not hang on one that already failed.
      const go = () => {
        inflater.off("drain", go);
        inflater.off("close", go);
        done();
      };
      inflater.on("drain", go);
      inflater.on("close", go);
      if (inflater.destroyed) go();
    },
    final(done) {
      if (gunzipError === undefined && !inflater.destroyed) inflater.end();
      done();
    },
  });
  try {
    await pipeline(input, feed);
  } catch (e) {
    if (!isOver(e)) throw e;
    inflater.destroy();
    input.destroy();
    return { size: stored.bytes, sha256: "", over: "stored" };
  }
  await inflated;
  const result: Measured = { size: stored.bytes, sha256: stored.digest() };
  if (over) result.over = over;
  if (gunzipError !== undefined) result.gunzipError = gunzipError;
  else result.original = { size: original.bytes, sha256: original.digest() };
  return result;
}
