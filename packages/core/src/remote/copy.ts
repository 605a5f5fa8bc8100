import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { link, mkdir, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { loadExeca } from "../lazy-execa.ts";
import { type RemoteOptions, isSshConnectionFailure, prepareControlDir, remoteCommandLine, sshArgv } from "./ssh.ts";

export type CopyResult = { kind: "ok"; path: string; size: number; sha256: string } | { kind: "exists"; path: string } | { kind: "failed"; message: string; connection: boolean };

/**
 * Copies one file from HOST to `local` through the shared connection, streamed (constant memory,
 * any size) and verified: the bytes are hashed as they arrive and must have the size and sha256
 * HOST computed for the file (`expect`), or nothing is kept. They go to a hidden partial file
 * beside `local` (created exclusively), which is hard-linked to `local` only once verified: a
 * file already at `local` is never replaced, and no reader ever sees a partial copy. HOST needs
 * only `cat`; the path reaches it as a quoted argument.
 */
export async function copyFromRemote(remotePath: string, local: string, expect: { size: number; sha256: string }, options: RemoteOptions & { timeoutMs?: number }): Promise<CopyResult> {
  if (await stat(local).then(() => true, () => false)) return { kind: "exists", path: local };
  await mkdir(dirname(local), { recursive: true });
  prepareControlDir(options);
  const partial = join(dirname(local), `.${basename(local)}.partial-${process.pid}`);
  const ssh = options.sshBin ?? process.env.SLURMPIPE_SSH ?? "ssh";
  const child = (await loadExeca())(ssh, [...sshArgv(options), remoteCommandLine(["cat", "--", remotePath])], { timeout: options.timeoutMs ?? 24 * 3_600_000, reject: false, stdin: "ignore", buffer: { stdout: false, stderr: true }, encoding: "buffer" });
  const hash = createHash("sha256");
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  let kept = false;
  try {
    const [copied, r] = await Promise.all([pipeline(child.stdout!, tap, createWriteStream(partial, { flags: "wx", mode: 0o644 })).then(() => undefined, (e: Error) => e), child]);
    const stderr = Buffer.from((r.stderr ?? new Uint8Array()) as Uint8Array).toString("utf8");
    if (copied || r.exitCode !== 0) {
      const why = r.timedOut ? "timed out" : copied?.message ?? (stderr.trim().split("\n").slice(-1)[0] || `exit ${r.exitCode}`);
      return { kind: "failed", message: `cannot fetch ${options.host}:${remotePath}: ${why}`, connection: Boolean(r.timedOut) || isSshConnectionFailure(r.exitCode, stderr) };
    }
    const sha256 = hash.digest("hex");
    if (size !== expect.size || sha256 !== expect.sha256) {
      return { kind: "failed", message: `fetched ${options.host}:${remotePath} differs from the file there: ${size} bytes, sha256 ${sha256} here, ${expect.size} bytes, sha256 ${expect.sha256} on ${options.host}; not kept`, connection: false };
    }
    try {
      await link(partial, local);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") return { kind: "exists", path: local };
      throw e;
    }
    kept = true;
    return { kind: "ok", path: local, size, sha256 };
  } finally {
    await unlink(partial).catch(() => {});
    if (!kept) child.kill();
  }
}
