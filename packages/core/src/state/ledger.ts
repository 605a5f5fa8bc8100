import { mkdir, open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "./atomic.ts";

/**
 * The state directory (default `.slurmpipe/`) is what makes submission idempotent and polling
 * restartable. `ledger.ndjson` is append-only; every line is fsynced before the next step:
 *   intent     written BEFORE sbatch runs: if we crash after it, the job may exist -> reconcile by tag
 *   submitted  sbatch answered with a job id (carries the full record, so `slurm-poll --state` needs no pipe)
 *   reconciled the job was found by its tag in squeue/sacct after a crash or a timeout
 *   failed     permanent failure, no job was created (or the job record is known to be dead)
 *   abandoned  an intent whose job was proven absent, so it may be submitted again
 */
export type LedgerEntry =
  | { t: "intent"; run_id: string; attempt: number; job_name: string; at: string; argv: string[]; name?: string; host?: string; pid?: number; array_id?: string; array_task?: number }
  | {
      t: "submitted" | "reconciled";
      run_id: string;
      attempt: number;
      job_id: string;
      job_name: string;
      at: string;
      cluster?: string;
      via?: "sbatch" | "squeue" | "sacct" | "local";
      /** The record as emitted downstream (with `job`). */
      record?: Record<string, unknown>;
    }
  | { t: "failed"; run_id: string; attempt: number; at: string; message: string; code?: string; job_id?: string }
  | { t: "abandoned"; run_id: string; attempt: number; at: string; reason: string };

export const LEDGER_FILE = "ledger.ndjson";

const ENTRY_KINDS = new Set(["intent", "submitted", "reconciled", "failed", "abandoned"]);

/**
 * One ledger line as an entry, or undefined when it is not one: not JSON, or JSON that is not an
 * entry (`null`, an array, an object without its kind, run id and attempt). Every ledger reader
 * calls this, so a line is judged the same way everywhere (a `null` line was a TypeError).
 */
export function parseLedgerLine(text: string): LedgerEntry | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  const e = v as { t?: unknown; run_id?: unknown; attempt?: unknown };
  if (typeof e.t !== "string" || !ENTRY_KINDS.has(e.t) || typeof e.run_id !== "string" || typeof e.attempt !== "number") return undefined;
  return v as LedgerEntry;
}

export interface LedgerRead {
  entries: LedgerEntry[];
  /** A last line cut by a crash mid-append; ignored. */
  tornLine?: number;
}

export class Ledger {
  readonly path: string;
  /**
   * Called before every append: throws when this process may no longer write (the state lock's
   * `assertHeld`, set by whoever holds the lock). No-op for a ledger opened without one.
   */
  guard: () => void = () => {};
  constructor(readonly dir: string) {
    this.path = join(dir, LEDGER_FILE);
  }

  async ensure(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  /** Appends one entry and fsyncs it before returning. */
  async append(entry: LedgerEntry): Promise<void> {
    await this.appendMany([entry]);
  }

  /** Appends entries with one write and one fsync (an array of N tasks costs one sync, not N). */
  async appendMany(entries: readonly LedgerEntry[]): Promise<void> {
    if (entries.length === 0) return;
    this.guard();
    await this.ensure();
    const fh = await open(this.path, "a");
    try {
      await fh.write(entries.map((e) => `${JSON.stringify(e)}\n`).join(""));
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  /**
   * A crash mid-append can leave a last line without its newline; the next append would be glued
   * to it and the ledger would become unreadable. Drops that torn line (atomically). Call it while
   * holding the state-directory lock, before the first append. Returns true if it cut something.
   */
  async repairTorn(): Promise<boolean> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch {
      return false;
    }
    if (text === "" || text.endsWith("\n")) return false;
    const cut = text.lastIndexOf("\n");
    this.guard();
    await writeFileAtomic(this.path, cut === -1 ? "" : text.slice(0, cut + 1));
    return true;
  }

  async read(): Promise<LedgerRead> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return { entries: [] };
      throw e;
    }
    const lines = text.split("\n");
    const entries: LedgerEntry[] = [];
    let tornLine: number | undefined;
    lines.forEach((line, i) => {
      if (line.trim() === "") return;
      const entry = parseLedgerLine(line);
      if (entry) entries.push(entry);
      // Only the last line can be torn (append + fsync); anything else is corruption.
      else if (i >= lines.length - 2) tornLine = i + 1;
      else throw new Error(`${this.path}:${i + 1}: corrupt ledger line`);
    });
    return tornLine === undefined ? { entries } : { entries, tornLine };
  }
}

/** Latest ledger entry per run id (entries are in append order). */
export function latestByRun(entries: readonly LedgerEntry[]): Map<string, LedgerEntry> {
  const latest = new Map<string, LedgerEntry>();
  for (const e of entries) latest.set(e.run_id, e);
  return latest;
}
