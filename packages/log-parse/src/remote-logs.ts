import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { appendFile, copyFile, link, mkdir, open, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { FILE_KIND_TEXT, type RemoteOptions, fetchRange, listRemoteTrees } from "@slurmpipe/core";
import { SKIP } from "./newest-file.ts";
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

/**
 * The files the metric readers of report.ts look for under a run's dir (csv.ts, tfevents.ts,
 * torchtune-log.ts by name; mlflow.ts: `mlruns/<experiment>/<run>/metrics/<key>`).
 */
const METRIC_FILE = /^(?:metrics\.csv|trainer_state\.json|events\.out\.tfevents\..+|log_\d{1,20}\.txt)$/;
/** Deeper than every finder looks (4-5 levels), and at most this many files fetched per run dir. */
const MAX_DEPTH = 5;
const MAX_MIRRORED = 500;

function wantedMetricFile(rel: string): boolean {
  const parts = rel.split("/");
  const name = parts.pop()!;
  // (checkpoints/ is skipped by the general walk but searched for trainer_state.json)
  if (parts.some((p) => p.startsWith(".") || (SKIP.has(p) && p !== "checkpoints"))) return false;
  if (parts[0] === "mlruns" && parts[3] === "metrics") return true;
  return parts.length <= MAX_DEPTH && METRIC_FILE.test(name);
}

/** A run's dir on HOST, as the local mirror of its metric files that the local readers read. */
export interface MirroredDir {
  /** The mirror, or undefined when the dir is not on HOST. */
  local?: string;
  /** A path or message about the mirror, with HOST's dir in place of the mirror's. */
  onHost(text: string): string;
  /** Why the dir could not be listed (the metric files are then not read). */
  problem?: string;
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

  /**
   * Mirrors the metric files under `dir` on HOST (one listing call, then each file as a copy that
   * only grows, like a log): hard links to the copies in the same directory layout, with HOST's
   * mtimes (the readers pick the newest file; a directory gets its newest file's), so the local
   * finders and readers decide exactly as they would on HOST. Links are not followed (the listing
   * names none as a file), FIFOs and devices are never opened.
   */
  async mirrorDir(dir: string): Promise<MirroredDir> {
    const root = `${this.base(`metrics-dir\n${dir}`)}.dir`;
    await rm(root, { recursive: true, force: true });
    const onHost = (text: string) => text.split(root).join(dir.replace(/\/+$/, ""));
    const listed = await listRemoteTrees([dir], this.remote, { hash: false, timeoutMs: 120_000 });
    if (!listed.ok) return { onHost, problem: listed.message };
    const tree = listed.trees[0];
    if (!tree || tree.kind === "missing") return { onHost };
    await mkdir(root, { recursive: true, mode: 0o700 });
    const dirTimes = new Map<string, number>();
    let n = 0;
    for (const e of tree.entries) {
      if (e.type !== "file" || !wantedMetricFile(e.rel) || ++n > MAX_MIRRORED) continue;
      const got = await this.copy(`${tree.realDir}/${e.rel}`, { roots: [tree.realDir] });
      if (!got.ok) continue;
      const to = join(root, e.rel);
      await mkdir(dirname(to), { recursive: true, mode: 0o700 });
      await link(got.local, to).catch(() => copyFile(got.local, to));
      const t = new Date(e.mtimeMs);
      await utimes(to, t, t);
      for (let d = dirname(to); relative(root, d) !== ""; d = dirname(d)) dirTimes.set(d, Math.max(dirTimes.get(d) ?? 0, e.mtimeMs));
    }
    // Deepest first: setting a directory's times does not touch its parent's.
    for (const [d, m] of [...dirTimes].sort((a, b) => b[0].length - a[0].length)) await utimes(d, new Date(m), new Date(m));
    return { local: root, onHost };
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
