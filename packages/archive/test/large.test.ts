import { createHash, randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, rmSync } from "node:fs";
import { once } from "node:events";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { archive, fileSha, tempDir } from "./helpers.ts";

const SIZE = 200 * 1024 * 1024;
const root = tempDir("sp-archive-large-");
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Writes SIZE bytes (a random 1 MiB block repeated with a counter, so gzip has real work) and returns their sha256. */
async function generate(path: string): Promise<string> {
  const out = createWriteStream(path);
  const hash = createHash("sha256");
  const block = randomBytes(1024 * 1024);
  for (let i = 0; i < SIZE / block.length; i++) {
    block.writeUInt32LE(i, 0);
    hash.update(block);
    if (!out.write(Buffer.from(block))) await once(out, "drain");
  }
  out.end();
  await once(out, "close");
  return hash.digest("hex");
}

test("a 200 MB checkpoint is packed, verified and restored in bounded memory", async () => {
  const dir = join(root, "run");
  mkdirSync(join(dir, "checkpoints"), { recursive: true });
  const src = join(dir, "checkpoints", "big.ckpt");
  const digest = await generate(src);

  let peak = 0;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage().rss);
  };
  globalThis.gc?.();
  const baseline = process.memoryUsage().rss;
  const timer = setInterval(sample, 20);
  try {
    const rec = { id: "big", name: "big", dir, outputs: ["checkpoints/*.ckpt"] };
    const r = await archive({ now: "2025-01-01T00:00:00Z", level: 1 }, { cwd: root, input: JSON.stringify(rec) });
    expect(r.code).toBe(0);
    const entry = r.records.find((x) => x.kind === "archive-entry")!;
    expect(entry).toMatchObject({ path: "runs/big/checkpoints/big.ckpt", size: SIZE, sha256: digest, compressed: "gzip" });
    const archivePath = String(r.records.at(-1)!.archive);
    sample();
    const v = await archive({ verify: archivePath }, { cwd: root });
    expect(v.code).toBe(0);
    const to = join(root, "restored");
    const back = await archive({ restore: archivePath, to, only: ["**/big.ckpt"] }, { cwd: root });
    expect(back.code).toBe(0);
    sample();
  } finally {
    clearInterval(timer);
  }
  expect(fileSha(join(root, "restored", "runs/big/checkpoints/big.ckpt"))).toBe(digest);
  // Streaming keeps the resident set far below the file size (buffering it would add >= 200 MB).
  const grown = (peak - baseline) / 1024 / 1024;
  process.stderr.write(`large: rss grew ${grown.toFixed(1)} MiB over ${(baseline / 1048576).toFixed(0)} MiB\n`);
  expect(grown).toBeLessThan(100);
}, 180_000);
