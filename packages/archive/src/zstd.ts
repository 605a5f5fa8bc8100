import { createReadStream } from "node:fs";
import { Readable, type Writable } from "node:stream";
import * as zlib from "node:zlib";
import { execa } from "execa";

/**
 * zstd for whole-archive compression (`--format tar.zst`). Node >= 22.15 has it in zlib; Node 20
 * does not, and no well-kept pure-JS streaming zstd compressor exists (the npm ones are native
 * addons, which would break the standalone plain-JS build, or decompress-only), so there we run the
 * system `zstd` as a filter process (argv, no shell).
 */
type ZlibWithZstd = typeof zlib & {
  createZstdCompress?: (o?: object) => NodeJS.ReadWriteStream;
  createZstdDecompress?: () => NodeJS.ReadWriteStream;
  constants: typeof zlib.constants & { ZSTD_c_compressionLevel?: number };
};
const z = zlib as ZlibWithZstd;

export const nativeZstd = typeof z.createZstdCompress === "function";

/** A zstd compressor whose output goes to `out` (a writable file stream). */
export function zstdCompressTo(out: Writable, level: number): { input: Writable; output: Readable | null; proc?: Promise<unknown> } {
  if (nativeZstd) {
    const params: Record<number, number> = {};
    if (z.constants.ZSTD_c_compressionLevel !== undefined) params[z.constants.ZSTD_c_compressionLevel] = level;
    const c = z.createZstdCompress!({ params }) as unknown as Writable & Readable;
    return { input: c, output: c };
  }
  const proc = execa("zstd", ["-q", "-c", `-${level}`], { stdin: "pipe", stdout: "pipe", stderr: "pipe", buffer: { stdout: false } });
  proc.stdout!.pipe(out);
  return { input: proc.stdin!, output: null, proc };
}

/** The raw tar bytes of a .tar.zst file as a stream. */
export function zstdDecompressFile(path: string): { stream: Readable; proc?: Promise<unknown> } {
  if (nativeZstd) {
    const d = z.createZstdDecompress!() as unknown as Readable & Writable;
    createReadStream(path).on("error", (e) => d.destroy(e)).pipe(d);
    return { stream: d };
  }
  const proc = execa("zstd", ["-q", "-d", "-c", path], { stdout: "pipe", stderr: "pipe", buffer: { stdout: false } });
  return { stream: Readable.from(proc.stdout!), proc };
}

export async function zstdAvailable(): Promise<boolean> {
  if (nativeZstd) return true;
  try {
    const r = await execa("zstd", ["--version"], { reject: false });
    return r.exitCode === 0;
  } catch {
    return false;
  }
}
