import { type RunRecord, ScratchTexts, StringPool } from "@slurmpipe/core";
import type { TrackedId } from "./ids.ts";
import { isLost } from "./lost.ts";
import type { PollStore } from "./store.ts";
import { type Track, type TrackedRun, blockedSettled, isFinal, newTrack, storeKey } from "./track.ts";

/**
 * Every job poll knows about: the tracks of the poll store (earlier runs of poll included), and
 * the jobs tracked in this session with their run records. It owns what holds memory at 100,000
 * jobs, so that is decided in one place: run records wait as text in a scratch file, strings that
 * many tracks repeat are pooled, and each job is held once (by its track, not its store key).
 */
export class Registry {
  /** Jobs tracked in this session, in arrival order. */
  private readonly active = new Map<Track, TrackedRun>();
  /** Job key -> the runs tracked under it: a job claimed by two runs is warned about (O(1) per record). */
  private readonly runsByJob = new Map<string, string[]>();

  private constructor(
    private readonly store: PollStore,
    /** Store key -> track: every job the store knows, tracked in this session or not. */
    private readonly tracks: Map<string, Track>,
    /** The tracked runs' records as JSON text, out of memory until they are written out. */
    private readonly spill: ScratchTexts,
    /** One copy of the strings many tracks repeat (array ids, job names, times, reasons). */
    readonly pool: StringPool,
  ) {}

  /** Loads the store (migrating an old one) and opens the scratch file beside it. */
  static async open(store: PollStore): Promise<Registry> {
    const pool = new StringPool();
    const tracks = await store.load(pool);
    return new Registry(store, tracks, await ScratchTexts.open(store.dir, "records"), pool);
  }

  async close(): Promise<void> {
    await this.spill.close();
  }

  /**
   * A run record to track. The same job again (ledger and stdin) keeps the newest copy of the
   * record (`fresh` false). `otherRuns`: runs that claimed the same job id before.
   */
  async add(record: RunRecord, id: TrackedId, now: () => Date): Promise<{ run: TrackedRun; fresh: boolean; otherRuns: string[] }> {
    const sk = storeKey(id.key, record);
    let t = this.tracks.get(sk);
    const known = t && this.active.get(t);
    if (known) {
      known.record = await this.spill.put(JSON.stringify(record));
      known.name = record.name;
      return { run: known, fresh: false, otherRuns: [] };
    }
    const otherRuns = this.claim(id.key, record.id);
    if (!t) {
      t = newTrack(id, record, now(), this.pool);
      this.tracks.set(sk, t);
    }
    const run: TrackedRun = { track: t, record: await this.spill.put(JSON.stringify(record)), name: record.name, emitted: false };
    this.active.set(t, run);
    return { run, fresh: true, otherRuns };
  }

  /** Notes that `runId` claims job `key`; returns the other runs that claimed it before. */
  private claim(key: string, runId: string): string[] {
    const runs = this.runsByJob.get(key);
    if (runs === undefined) {
      this.runsByJob.set(key, [runId]);
      return [];
    }
    const others = runs.filter((r) => r !== runId);
    if (others.length === runs.length) runs.push(runId);
    return others;
  }

  /** The run record as it was tracked (a fresh copy: callers may set fields on it). */
  async record(run: TrackedRun): Promise<RunRecord> {
    return JSON.parse(await this.spill.get(run.record)) as RunRecord;
  }

  /** This session's jobs, in arrival order. */
  runs(): IterableIterator<TrackedRun> {
    return this.active.values();
  }

  get size(): number {
    return this.active.size;
  }

  /** This session's jobs still to query: not terminal (lost ones included: they may come back). */
  pending(): TrackedRun[] {
    const pending: TrackedRun[] = [];
    for (const run of this.active.values()) if (!isFinal(run.track)) pending.push(run);
    return pending;
  }

  /** Nothing left to wait for: every job is terminal, lost or blocked (see blockedSettled). */
  settled(lostAfterMs: number, cancelUnsatisfiable = false): boolean {
    for (const { track } of this.active.values()) if (!isFinal(track) && !isLost(track, lostAfterMs) && !blockedSettled(track, cancelUnsatisfiable)) return false;
    return true;
  }

  /** Writes every track (this session's and the store's others) to the store. */
  async save(): Promise<void> {
    await this.store.save(this.tracks);
  }
}
