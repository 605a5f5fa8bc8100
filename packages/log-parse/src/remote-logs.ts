import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { appendFile, mkdir, open, readFile, rename, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FILE_KIND_TEXT, type RemoteOptions, fetchRange } from "@slurmpipe/core";
import type { Opened } from "./open.ts";

/**
 * `--remote HOST`: a log on HOST is read through a local copy that only grows. Each read asks HOST
 * for the bytes after the copy's end (core fetchRange, one ssh call through the shared connection),
 * with 4 KiB of overlap compared with the copy's last bytes and the file's device and inode
 * compared with those the copy came from: a log that was replaced, shrank, or was truncated and
 * rewritten in place is fetched again whole and the copy replaced (a new file, so --state's own
 * identity check reads it from the start as well). The copy is then read as a local log
 * (incremental.ts goes on from its offset), and named in the report by its path on HOST.
 *
 * Copies live in `<state>/log-parse/remote/` (0700; logs may hold secrets a job printed), or, without
 * --state, in a temporary directory removed at exit (every run then fetches the whole logs).
 */
const OVERLAP = 4096;

interface CopyMeta {
  host: string;
  path: string;
  dev: string;
  ino: string;
  /** Bytes in the copy (the remote file's size when they were read, or less if it shrank meanwhile). */
  size: number;
}

export interface RemoteReadStats {
  fetched: number;
  reused: number;
  refetched: number;
}

export class RemoteLogs {
  readonly stats: RemoteReadStats = { fetched: 0, reused: 0, refetched: 0 };
  private readonly dir: string;
  private readonly temporary: boolean;

  constructor(
    readonly remote: RemoteOptions,
    stateDir: string | undefined,
  ) {
    this.temporary = stateDir === undefined;
    this.dir = stateDir ? join(stateDir, "log-parse", "remote") : mkdtempSync(join(tmpdir(), "log-parse-remote-"));
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  close(): void {
    if (this.temporary) rmSync(this.dir, { recursive: true, force: true });
  }

  private base(path: string): string {
    return join(this.dir, createHash("sha256").update(`${this.remote.host}\n${path}`).digest("hex").slice(0, 32));
  }

  /**
   * Brings the local copy of `path` on HOST up to date; the copy's path, or why there is none, in
   * open.ts's terms (so the report says the same as for a local log), messages naming HOST's path.
   */
  async copy(path: string, rules: { roots?: readonly string[]; anySymlink?: boolean }): Promise<{ ok: true; local: string } | Exclude<Opened, { ok: true }>> {
    const base = this.base(path);
    const data = `${base}.log`;
    const meta = await readFile(`${base}.json`, "utf8")
      .then((t) => JSON.parse(t) as CopyMeta)
      .catch(() => undefined);
    const have = meta && meta.host === this.remote.host && meta.path === path ? await stat(data).catch(() => undefined) : undefined;
    const size = have && have.size === meta!.size ? meta!.size : 0;
    const back = Math.min(OVERLAP, size);
    const where = `${this.remote.host}:${path}`;
    const ask = (offset: number, overlap: number) =>
      fetchRange({ path, offset, back: overlap, ...(offset > 0 ? { dev: meta!.dev, ino: meta!.ino } : {}), ...(rules.roots ? { roots: rules.roots } : {}), ...(rules.anySymlink ? { anySymlink: true } : {}) }, this.remote);
    let r = await ask(size, back);
    if (r.kind === "ok" && r.start > 0) {
      const mine = Buffer.alloc(back);
      const fh = await open(data, "r");
      try {
        await fh.read(mine, 0, back, size - back);
      } finally {
        await fh.close();
      }
      if (r.bytes.length < back || !r.bytes.subarray(0, back).equals(mine)) {
        this.stats.refetched += 1;
        r = await ask(0, 0); // same inode, other content before our end: read it whole
      }
    }
    if (r.kind === "missing") return { ok: false, exists: false };
    if (r.kind === "failed") return { ok: false, exists: true, refused: "unreadable", message: r.message };
    if (r.kind === "refused") {
      if (r.refused === "symlink_outside")
        return { ok: false, exists: true, refused: r.refused, message: `${where}: a symlink to ${r.target ?? "?"}, outside its directory: not read (a log's symlink is followed only within its own directory or the run's dir)` };
      if (r.refused === "unreadable") return { ok: false, exists: true, refused: r.refused, message: `${where}: not readable` };
      const what = r.refused === "not_regular" ? FILE_KIND_TEXT[r.refused] : `${FILE_KIND_TEXT[r.refused]}, not a regular file`;
      return { ok: false, exists: true, refused: r.refused, message: `${where}: ${what}: not read (log-parse reads only regular files)` };
    }
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const next: CopyMeta = { host: this.remote.host, path, dev: r.dev, ino: r.ino, size: 0 };
    if (r.start === 0) {
      // A new copy (new inode): a reader of the old one, or --state's identity check, sees a new file.
      const tmp = `${data}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
      await writeFile(tmp, r.bytes, { mode: 0o600 });
      await rename(tmp, data);
      next.size = r.bytes.length;
      this.stats.fetched += r.bytes.length;
    } else {
      const added = r.bytes.subarray(back);
      if (added.length > 0) await appendFile(data, added);
      next.size = size + added.length;
      this.stats.fetched += r.bytes.length;
      this.stats.reused += size;
    }
    await writeFile(`${base}.json`, JSON.stringify(next), { mode: 0o600 });
    return { ok: true, local: data };
  }
}
