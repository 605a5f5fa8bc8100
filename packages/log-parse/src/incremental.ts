import { createHash } from "node:crypto";
import type { Stats } from "node:fs";
import { readFileSync, unlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { FileSink, RunAnalysis } from "./analyzer.ts";
import type { ResumePoint, ScanOptions, ScanStats } from "./scan.ts";
import type { LogHandle } from "./open.ts";
import { ResumeDiverged, scanHandle } from "./scan.ts";
import { type Json, NotSnapshottable, catalogue, restore, shareWith, snapshot, unshare } from "./snapshot.ts";
import { BlobTable, StateWriter, decodeStateFile, encodeStateFile, rebase } from "./state-file.ts";

/**
 * `--state DIR`, per log: where the last run stopped and what the analyzer knew there, so the next
 * run reads only the bytes appended since. One file per record's chain of logs (stdout, then
 * stderr), DIR/log-parse/scans/<sha256 of the first log's path and the scan options>.state
 * (state-file.ts: a JSON header, the typed arrays as bytes):
 * per log its identity (device, inode, size, mtime, sha256 of the first and of the last HASH_BYTES
 * before the stop offset), the stop offset (a line boundary, or the last `\r` of an unfinished
 * last line, see ResumePoint: what follows it is read again next time, completed) and the
 * analyzer's state there (snapshot.ts).
 *
 * A log goes on from its offset when it is the same file (device and inode), at least that long,
 * and both hashes match; otherwise (it shrank, was replaced, a requeue truncated and rewrote it)
 * it is read from the start. The logs of a chain share one analyzer, so a log after one that
 * changed is read from the start too (its state included what came before it). A state file that
 * cannot be read or restored is a warning and a full read, never an error. A log's snapshot is
 * kept as what differs from the one before it in the chain (`shared`: snapshot.ts shareWith), as
 * the later one repeats most of the earlier (bench 8: half of the state's size).
 */
/**
 * 3: samples of 1,024 points and typed arrays kept as progressions (snapshot.ts); 4: the `.state`
 * file with the typed arrays as bytes (state-file.ts; 3 was `.json`, base64 inside). A state of
 * another version is read again from the start once: restored, a longer sample would make reports
 * that differ from a full parse's.
 */
const VERSION = 4;
const HASH_BYTES = 4096;
/**
 * A log after the first of its chain (stderr after stdout) shorter than this keeps no snapshot: it
 * is read again from the start next time (as it is anyway whenever the log before it grew), which
 * costs less than writing and reading a snapshot of the whole analyzer (bench 8).
 */
const SNAPSHOT_MIN_BYTES = 64 * 1024;

interface LogState {
  path: string;
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  at: ResumePoint;
  head: string;
  tail: string;
  snap: unknown;
  /** `snap` is kept as its difference from the previous snapshot of the chain. */
  shared?: true;
  /** (In memory only) `snap` is the one read from the state file, its parts that file's. */
  reused?: true;
}

type Position = LogState | { path: string; none: true };

interface ChainFile {
  v: number;
  fp: string;
  logs: Position[];
  /** The typed arrays' bytes the snapshots refer to (not in the header: the file's binary part). */
  parts: readonly Uint8Array[];
}

export interface IncrementalStats {
  logs: number;
  resumed: number;
  fromStart: number;
  /** Bytes read by the scans (from the offset they went on from). */
  scanned: number;
  /** Bytes read to check the hashes. */
  hashed: number;
  /** Bytes of the logs (their size). */
  total: number;
}

/** The classes a snapshot may hold, from a fresh analyzer; and a fingerprint of their shape, so a state written by another build is not restored. */
function classesAndFingerprint(): { classes: Map<string, object>; fp: string } {
  const run = new RunAnalysis();
  const sink = run.sink("x");
  run.metric("loss", 1, "1", 1, "x", 1);
  const classes = catalogue([run, sink, FileSink.prototype]);
  const shape = JSON.stringify(snapshot({ run, sink }, classes), (_k, v) => (typeof v === "number" || typeof v === "string" ? 0 : v));
  const fp = createHash("sha256").update(`${VERSION}\n${[...classes.keys()].sort().join(",")}\n${shape}`).digest("hex").slice(0, 16);
  return { classes, fp };
}

export class IncrementalStore {
  readonly stats: IncrementalStats = { logs: 0, resumed: 0, fromStart: 0, scanned: 0, hashed: 0, total: 0 };
  private readonly dir: string;
  private readonly known = classesAndFingerprint();
  private readonly writer: StateWriter;

  constructor(
    stateDir: string,
    readonly warn: (message: string) => void,
  ) {
    this.dir = join(resolve(stateDir), "log-parse", "scans");
    this.writer = new StateWriter((file, message) => warn(`${file}: not written (${message}); the next run reads these logs from the start`));
  }

  /** One record's logs, scanned in order into one analyzer. */
  chain(options: ScanOptions & { patterns?: readonly { name: string; re: RegExp }[] }): LogChain {
    const opts = JSON.stringify({ maxLineBytes: options.maxLineBytes, highWaterMark: options.highWaterMark, patterns: (options.patterns ?? []).map((p) => [p.name, p.re.source, p.re.flags]) });
    return new LogChain(this, opts);
  }

  fileFor(firstPath: string, opts: string): string {
    return join(this.dir, `${createHash("sha256").update(`${firstPath}\n${opts}`).digest("hex")}.state`);
  }

  async load(file: string): Promise<ChainFile | undefined> {
    let bytes: Buffer;
    try {
      // Synchronous, as the small reads of open.ts (a thread-pool trip each was most of their cost).
      bytes = readFileSync(file);
    } catch {
      // None yet: a state of version 3 or earlier may be beside it, under the old name; it is not read again.
      try {
        unlinkSync(file.replace(/\.state$/, ".json"));
      } catch {}
      return undefined;
    }
    try {
      const decoded = decodeStateFile(bytes);
      if (!decoded) return undefined; // not this format: an earlier version, read again
      const data = { ...decoded.header, parts: decoded.parts } as unknown as ChainFile;
      if (data.v !== VERSION || data.fp !== this.known.fp || !Array.isArray(data.logs)) return undefined; // another build: read again
      let base: Json | undefined;
      for (const log of data.logs) {
        if ("none" in log) continue;
        if (log.shared) {
          log.snap = unshare(base, log.snap as Json);
          delete log.shared;
        }
        base = log.snap as Json;
      }
      return data;
    } catch (e) {
      this.warn(`${file}: not readable (${(e as Error).message}); the logs are read from the start`);
      return undefined;
    }
  }

  /** Queues the file's write (state-file.ts StateWriter: in the background, atomically, owner only). */
  async save(file: string, data: Omit<ChainFile, "parts">, parts: readonly Buffer[]): Promise<void> {
    await this.writer.queue(file, encodeStateFile(data, parts));
  }

  /** Waits for every state file queued to be written (a failed write is a warning). */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  get classes(): Map<string, object> {
    return this.known.classes;
  }

  get fingerprint(): string {
    return this.known.fp;
  }
}

function windowHash(handle: LogHandle, from: number, to: number, stats: IncrementalStats): string {
  const buf = Buffer.alloc(Math.max(0, to - from));
  let got = 0;
  while (got < buf.length) {
    const bytesRead = handle.readSync(buf, got, buf.length - got, from + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  stats.hashed += got;
  return createHash("sha256").update(buf.subarray(0, got)).digest("base64");
}

const hashes = (handle: LogHandle, at: number, stats: IncrementalStats, head = true) => ({
  head: head ? windowHash(handle, 0, Math.min(HASH_BYTES, at), stats) : "",
  tail: windowHash(handle, Math.max(0, at - HASH_BYTES), at, stats),
});

export class LogChain {
  private stored: ChainFile | undefined;
  private file: string | undefined;
  private readonly next: Position[] = [];
  /** Every log so far went on from its state and had not changed: the next one may go on from its own. */
  private clean = true;
  private changed = false;
  /** The typed arrays of this run's snapshots, written with them. */
  private readonly blobs = new BlobTable();

  constructor(
    private readonly store: IncrementalStore,
    private readonly opts: string,
  ) {}

  private async begin(path: string): Promise<Position | undefined> {
    if (this.file === undefined) {
      this.file = this.store.fileFor(path, this.opts);
      this.stored = await this.store.load(this.file);
      if (!this.stored) this.changed = true;
    }
    return this.stored?.logs[this.next.length];
  }

  /** A log that was not scanned (missing, refused): later logs cannot go on from a state that assumed it. */
  async skip(path: string): Promise<void> {
    const stored = await this.begin(path);
    if (!stored || stored.path !== path || !("none" in stored)) {
      this.clean = false;
      this.changed = true;
    }
    this.next.push({ path, none: true });
  }

  /**
   * Scans `handle` (up to `size`) into `run`, or goes on from this log's state; returns the
   * analyzer to continue with (a restored one replaces `run`) and the scan's counts.
   */
  async scan(run: RunAnalysis, path: string, handle: LogHandle, size: number, st: Stats, options: ScanOptions): Promise<{ run: RunAnalysis; stats: ScanStats }> {
    const { stats: counters, classes } = this.store;
    const before = run;
    const stored = await this.begin(path);
    counters.logs += 1;
    counters.total += size;
    let sink: FileSink | undefined;
    let from: ResumePoint | undefined;
    if (this.clean && stored && !("none" in stored) && stored.path === path && stored.dev === st.dev && stored.ino === st.ino && size >= stored.at.offset) {
      const h = hashes(handle, stored.at.offset, counters);
      if (h.head === stored.head && h.tail === stored.tail) {
        try {
          const back = restore(stored.snap as never, classes, this.stored?.parts) as { run: RunAnalysis; sink: FileSink };
          if (!(back.run instanceof RunAnalysis) || !(back.sink instanceof FileSink)) throw new Error("not an analyzer");
          ({ run, sink } = back);
          from = stored.at;
        } catch (e) {
          this.store.warn(`${this.file}: the state of ${path} cannot be restored (${(e as Error).message}); read from the start`);
        }
      }
    }
    let unchanged = from !== undefined && stored !== undefined && !("none" in stored) && stored.size === size && stored.mtimeMs === st.mtimeMs;
    if (!unchanged) this.clean = false;
    const first = this.next.length === 0;
    let taken: { at: ResumePoint; snap: unknown; reused?: true } | undefined;
    let why: string | undefined;
    const scan = (liveRun: RunAnalysis, liveSink: FileSink, from: ResumePoint | undefined) => {
      if (from) counters.resumed += 1;
      else counters.fromStart += 1;
      counters.scanned += size - (from?.offset ?? 0);
      return scanHandle(handle, size, liveSink, options, {
        ...(from ? { from } : {}),
        checkpoint: (at) => {
          if (!first && at.offset < SNAPSHOT_MIN_BYTES) return;
          // Nothing read since the state was taken: the analyzer is as restored, and so is its snapshot.
          if (unchanged && stored && !("none" in stored)) {
            taken = { at, snap: stored.snap, reused: true };
            return;
          }
          try {
            taken = { at, snap: snapshot({ run: liveRun, sink: liveSink }, classes, this.blobs) };
          } catch (e) {
            if (!(e instanceof NotSnapshottable)) throw e;
            why = e.message;
          }
        },
      });
    };
    let stats: ScanStats;
    try {
      stats = await scan(run, (sink ??= run.sink(path)), from);
    } catch (e) {
      if (!(e instanceof ResumeDiverged) || from === undefined) throw e;
      // Read again from the start, into the analyzer this log began with (`before`: the restore made a new one).
      counters.resumed -= 1;
      counters.scanned -= size - from.offset;
      from = undefined;
      unchanged = false;
      this.clean = false;
      run = before;
      stats = await scan(run, run.sink(path), undefined);
    }
    if (taken) {
      if (!taken.reused) this.changed = true;
      let h: { head: string; tail: string };
      if (unchanged && stored && !("none" in stored)) h = stored;
      else if (from && stored && !("none" in stored) && from.offset >= HASH_BYTES) h = { head: stored.head, tail: (hashes(handle, taken.at.offset, counters, false)).tail }; // the head was checked above
      else h = hashes(handle, taken.at.offset, counters);
      this.next.push({ path, dev: st.dev, ino: st.ino, size, mtimeMs: st.mtimeMs, at: taken.at, head: h.head, tail: h.tail, snap: taken.snap, ...(taken.reused ? { reused: true as const } : {}) });
    } else {
      if (why) this.store.warn(`${path}: the analyzer holds ${why}, which --state cannot keep; this log is read from the start each time`);
      this.next.push({ path, none: true });
      // A small later log keeps no snapshot (it is read again each time): the same entry as before is no change.
      if (!(stored && "none" in stored && stored.path === path)) this.changed = true;
    }
    return { run, stats };
  }

  /**
   * Writes the chain's state when anything changed: a cron tick over logs nothing was appended to
   * rewrites no file (on a parallel file system, 216 renames a tick were metadata load for nothing).
   */
  async save(): Promise<void> {
    if (this.file === undefined || !this.changed) return;
    let base: Json | undefined;
    const logs = this.next.map((log) => {
      if ("none" in log) return log;
      const { reused, ...entry } = log;
      // A reused snapshot refers to the binary parts of the file it was read from.
      const full = reused ? rebase(log.snap as Json, this.stored?.parts ?? [], this.blobs) : (log.snap as Json);
      log = { ...entry, snap: full };
      const kept = base === undefined ? log : { ...log, snap: shareWith(base, full), shared: true as const };
      base = full;
      return kept;
    });
    await this.store.save(this.file, { v: VERSION, fp: this.store.fingerprint, logs }, this.blobs.parts);
  }
}
