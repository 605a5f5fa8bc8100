import { type FileHandle, open } from "node:fs/promises";
import { Ledger, type LedgerEntry, RunRecord, parseLedgerLine, zodField } from "@slurmpipe/core";
import { type TrackedId, trackedId } from "./ids.ts";

/** What poll does with one input object. */
export type Classified =
  | { kind: "pass"; value: Record<string, unknown>; warning?: string }
  | { kind: "track"; record: RunRecord; id: TrackedId }
  | { kind: "bad"; field?: string; message: string };

/**
 * Records that are not submitted runs pass through untouched (events of an earlier poll, records
 * with an `error`, records without `job` with a warning); a submitted run is validated and tracked.
 */
export function classify(value: Record<string, unknown>): Classified {
  if (value.kind !== undefined && value.kind !== "run") return { kind: "pass", value };
  if (value.error !== undefined) return { kind: "pass", value };
  if (value.job === undefined) {
    const id = typeof value.id === "string" ? value.id : "?";
    return { kind: "pass", value, warning: `run ${id} has no "job" (not submitted?): passed through, not polled` };
  }
  const parsed = RunRecord.safeParse(value);
  if (!parsed.success) return { kind: "bad", ...zodField(parsed.error) };
  const id = trackedId(parsed.data.job!);
  if ("error" in id) return { kind: "bad", field: "job.id", message: id.error };
  return { kind: "track", record: parsed.data, id };
}

/**
 * Submitted runs from slurm-submit's ledger: the record of each run's latest submitted (or
 * reconciled) attempt. Runs whose latest attempt failed before creating a job have no record.
 * Holds every entry in memory; poll itself follows the ledger with LedgerFollower.
 */
export async function ledgerRecords(stateDir: string): Promise<{ records: Record<string, unknown>[]; tornLine?: number }> {
  const { entries, tornLine } = await new Ledger(stateDir).read();
  const best = new Map<string, Extract<LedgerEntry, { t: "submitted" | "reconciled" }>>();
  for (const e of entries) {
    if ((e.t !== "submitted" && e.t !== "reconciled") || !e.record) continue;
    const prev = best.get(e.run_id);
    if (!prev || e.attempt >= prev.attempt) best.set(e.run_id, e);
  }
  const records = [...best.values()].map((e) => e.record!);
  return tornLine === undefined ? { records } : { records, tornLine };
}

/** Where a run's latest submitted/reconciled entry is, and when the run first had one. */
interface Latest {
  attempt: number;
  /** Order of the run's first such entry in the ledger: records come out in that order. */
  seq: number;
  at: number;
  length: number;
  line: number;
}

/**
 * slurm-submit's ledger, followed: what `ledgerRecords` gives, without holding the file (~200 MB
 * at 100,000 runs) or its entries (poll peaked at ~900 MB) in memory. Two passes over the lines:
 * the first parses each one and notes where each run's latest attempt is, the second reads and
 * parses only those lines. The ledger is append-only, so a later call reads only what was appended
 * since: a watch that re-reads it every cycle does not re-track every unchanged run. A bad line is
 * a line torn by a crash (ignored, and read again next time) when nothing but a last line follows
 * it, as core's Ledger.read decides; otherwise the ledger is corrupt.
 */
export class LedgerFollower {
  /** Bytes read and understood, and the lines in them. */
  private offset = 0;
  private lines = 0;
  /** The file read (a ledger rewritten by slurm-submit, or replaced, is read again from the start). */
  private ino: number | undefined;
  private readonly runs = new Map<string, { attempt: number; seq: number }>();

  constructor(readonly path: string) {}

  /** The records of runs that got a (later) submitted attempt since the last call, in ledger order, with their line numbers. */
  async *records(): AsyncGenerator<{ record: Record<string, unknown>; line: number }> {
    let fh: FileHandle;
    try {
      fh = await open(this.path, "r");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw e;
    }
    try {
      const { size, ino } = await fh.stat();
      if (size < this.offset || ino !== this.ino) {
        // Another file (slurm-submit rewrites it to cut a torn line): read it from the start.
        this.ino = ino;
        this.offset = 0;
        this.lines = 0;
        this.runs.clear();
      }
      const latest = await this.scan(fh, size);
      const window = new ReadWindow(fh);
      for (const l of [...latest.values()].sort((x, y) => x.seq - y.seq)) {
        const entry = JSON.parse(await window.text(l.at, l.length)) as { record: Record<string, unknown> };
        yield { record: entry.record, line: l.line };
      }
    } finally {
      await fh.close().catch(() => {});
    }
  }

  /** First pass over what is new: each run's latest submitted/reconciled entry. */
  private async scan(fh: FileHandle, size: number): Promise<Map<string, Latest>> {
    const latest = new Map<string, Latest>();
    let count = 0;
    let bad: { index: number; line: number } | undefined;
    let consumed: { bytes: number; lines: number } | undefined;
    for await (const { start, end, text } of linesOf(fh, this.offset, size)) {
      const index = count++;
      const line = this.lines + index + 1;
      // As core's Ledger.read: a bad line with more than one line after it is corruption.
      if (bad && index > bad.index + 1) throw new Error(`${this.path}:${bad.line}: corrupt ledger line`);
      let entry: LedgerEntry | undefined;
      if (text.trim() !== "") {
        entry = parseLedgerLine(text);
        if (!entry) {
          bad ??= { index, line };
          continue;
        }
      }
      // Understood up to here, unless it is the last line without its newline yet (read again next time).
      if (!bad && end < size) consumed = { bytes: end + 1, lines: index + 1 };
      if (!entry || bad || (entry.t !== "submitted" && entry.t !== "reconciled") || !entry.record) continue;
      const known = latest.get(entry.run_id) ?? this.runs.get(entry.run_id);
      if (known && !(entry.attempt >= known.attempt)) continue;
      const seq = known?.seq ?? this.runs.size + latest.size;
      latest.set(entry.run_id, { attempt: entry.attempt, seq, at: start, length: end - start, line });
    }
    if (consumed) {
      this.offset = consumed.bytes;
      this.lines += consumed.lines;
    }
    for (const [run, l] of latest) this.runs.set(run, { attempt: l.attempt, seq: l.seq });
    return latest;
  }
}

/**
 * The lines of a file from byte `from` to `size`, with their byte ranges (without the newline),
 * as `text.split("\n")` has them: the part after the last newline is a last line, possibly "".
 */
async function* linesOf(fh: FileHandle, from: number, size: number): AsyncGenerator<{ start: number; end: number; text: string }> {
  const chunk = Buffer.allocUnsafe(1 << 20);
  let carry: Buffer[] = [];
  let lineStart = from;
  for (let at = from; at < size; ) {
    const { bytesRead } = await fh.read(chunk, 0, Math.min(chunk.length, size - at), at);
    if (bytesRead === 0) break;
    let from0 = 0;
    for (let nl = chunk.indexOf(0x0a, 0); nl !== -1 && nl < bytesRead; nl = chunk.indexOf(0x0a, from0)) {
      const end = at + nl;
      const text = carry.length ? Buffer.concat([...carry, chunk.subarray(from0, nl)]).toString("utf8") : chunk.toString("utf8", from0, nl);
      carry = [];
      yield { start: lineStart, end, text };
      lineStart = end + 1;
      from0 = nl + 1;
    }
    if (from0 < bytesRead) carry.push(Buffer.from(chunk.subarray(from0, bytesRead)));
    at += bytesRead;
  }
  yield { start: lineStart, end: size, text: Buffer.concat(carry).toString("utf8") };
}

/** Reads ranges of a file going mostly forward: a 1 MiB window, or just the range when it is bigger. */
class ReadWindow {
  private window: { at: number; data: Buffer } | undefined;
  constructor(private readonly fh: FileHandle) {}

  async text(at: number, length: number): Promise<string> {
    let w = this.window;
    if (!w || at < w.at || at + length > w.at + w.data.length) {
      const data = Buffer.allocUnsafe(Math.max(1 << 20, length));
      let got = 0;
      for (;;) {
        const { bytesRead } = await this.fh.read(data, got, data.length - got, at + got);
        if (bytesRead === 0) break;
        got += bytesRead;
        if (got >= length) break;
      }
      if (got < length) throw new Error(`short read at byte ${at} (${got} of ${length})`);
      w = { at, data: data.subarray(0, got) };
      this.window = w;
    }
    return w.data.toString("utf8", at - w.at, at - w.at + length);
  }
}
