import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { measure } from "../src/streams.ts";

// A gzip bomb measured against a manifest that says 6 bytes: the inflate limit stops it, and the
// measurement always settles. (Under load, CI saw `archive --verify` end in "internal stall": the
// decompressor was destroyed by the limit while the feeder, not yet told, wrote to it and waited
// for a drain or close that had already passed.)
const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));

function chunked(data: Buffer, size: number): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) parts.push(data.subarray(i, i + size));
  return Readable.from(parts, { objectMode: false });
}

describe("measure of a gzip bomb", () => {
  it("stops at the inflate limit and settles, whatever the chunking (200 tries)", async () => {
    for (let i = 0; i < 200; i++) {
      const m = await measure(chunked(bomb, 16 + (i % 64) * 32), true, { stored: bomb.length, original: 6 });
      expect(m.over, `try ${i}`).toBe("original");
      expect(m.original).toBeUndefined();
    }
  }, 60_000);
});
