import { type LedgerEntry, StringPool } from "@slurmpipe/core";

/**
 * The `record` of a `submitted`/`reconciled` entry slurm-submit appends: the record's JSON text, written
 * into the ledger line as it is (ledger-file.ts), plus the two fields the view keeps. Building the
 * line from the text instead of a parsed copy saves a JSON.parse and a JSON.stringify per run.
 */
export class RecordText {
  constructor(
    readonly text: string,
    readonly job: Record<string, unknown>,
    readonly name: string,
    /** `record.script`'s path and sha256: which script this job runs. */
    readonly script?: SubmittedScript,
  ) {}

  /** Anything that serialises the entry the ordinary way still writes the record. */
  toJSON(): unknown {
    return JSON.parse(this.text);
  }
}

/**
 * A `submitted`/`reconciled` entry as the view keeps it: the job of the record it carries, not the
 * whole record (100,000 of those were most of a rerun's memory).
 */
export type JobEntry = Omit<Extract<LedgerEntry, { t: "submitted" | "reconciled" }>, "record"> & {
  /** `record.job` of the entry: the job as it was emitted. */
  job?: Record<string, unknown>;
  /** `record.name`. */
  name?: string;
  /** `record.script`'s path and sha256: the script this job was submitted with. */
  script?: SubmittedScript;
};

export interface SubmittedScript {
  path?: string;
  sha256?: string;
}
export type IntentEntry = Extract<LedgerEntry, { t: "intent" }>;
export type ViewEntry = Exclude<LedgerEntry, { t: "submitted" | "reconciled" }> | JobEntry;
/** An entry as slurm-submit appends it: the record of a `submitted`/`reconciled` one may be its text. */
export type NewEntry =
  | Exclude<LedgerEntry, { t: "submitted" | "reconciled" }>
  | (Omit<Extract<LedgerEntry, { t: "submitted" | "reconciled" }>, "record"> & { record?: Record<string, unknown> | RecordText });

/** Fields slurm-submit adds to ledger lines beyond core's types (readers ignore unknown fields). */
export interface EntryExtras {
  /** The array script's id (script.array.id), on every entry of an array task. */
  array_id?: string;
  array_task?: number;
  /** Intent only: which host and process ran sbatch, to find an orphaned sbatch after a crash. */
  host?: string;
  pid?: number;
}

export function extras(entry: ViewEntry): EntryExtras {
  return entry as unknown as EntryExtras;
}

/**
 * What the ledger says about every run: its latest entry, the highest attempt used, the last job
 * it got, and names -> run ids (dependencies may name runs). Updated as entries are appended.
 */
export class LedgerView {
  readonly latest = new Map<string, ViewEntry>();
  readonly maxAttempt = new Map<string, number>();
  readonly lastJob = new Map<string, JobEntry>();
  readonly runByName = new Map<string, string>();
  readonly maxArrayAttempt = new Map<string, number>();
  /** Every job name this state directory submitted (for --max-in-flight). */
  readonly jobNames = new Set<string>();

  constructor(entries: readonly LedgerEntry[] = []) {
    const pool = new StringPool();
    for (const e of entries) this.apply(e, pool);
  }

  /** Takes in an entry; with a pool (entries read from the file) its repeated strings are shared. */
  apply(entry: NewEntry, pool?: StringPool): void {
    this.take(compact(entry, pool));
  }

  /** Takes in an entry already without its record (see compact). */
  take(e: ViewEntry): void {
    this.latest.set(e.run_id, e);
    this.maxAttempt.set(e.run_id, Math.max(this.maxAttempt.get(e.run_id) ?? 0, e.attempt));
    const arrayId = extras(e).array_id;
    if (arrayId) this.maxArrayAttempt.set(arrayId, Math.max(this.maxArrayAttempt.get(arrayId) ?? 0, e.attempt));
    if (e.t === "intent" && e.name) this.runByName.set(e.name, e.run_id);
    if (e.t === "submitted" || e.t === "reconciled") {
      this.lastJob.set(e.run_id, e);
      this.jobNames.add(e.job_name);
      if (typeof e.name === "string") this.runByName.set(e.name, e.run_id);
    }
  }
}

/** Fields unique to a run (an entry's, its job's): not worth a pool entry. */
const UNIQUE = new Set(["run_id", "job_id", "name"]);
const UNIQUE_IN_JOB = new Set(["id"]);

/** The entry without the record it carries (its job and name kept); with a pool, strings shared. */
export function compact(entry: NewEntry, pool: StringPool | undefined): ViewEntry {
  if (entry.t !== "submitted" && entry.t !== "reconciled" && !pool) return entry;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(entry)) {
    if (k !== "record") out[k] = pool && !UNIQUE.has(k) ? pooled(v, pool) : v;
  }
  if (entry.t === "submitted" || entry.t === "reconciled") {
    const { job, name, script } = entry.record ?? {};
    if (job && typeof job === "object") out.job = pool ? pooled(job, pool, UNIQUE_IN_JOB) : job;
    if (typeof name === "string") out.name = name;
    const kept = submittedScript(script);
    if (kept) out.script = pool ? pooled(kept, pool) : kept;
  }
  return out as unknown as ViewEntry;
}

/** A copy of a JSON value whose strings and string lists (argv) come from the pool, but its `unique` fields. */
function pooled(v: unknown, pool: StringPool, unique: ReadonlySet<string> = UNIQUE_IN_JOB): unknown {
  if (typeof v === "string") return pool.get(v);
  if (Array.isArray(v)) return v.every((x) => typeof x === "string") ? pool.list(v as string[]) : v;
  if (v === null || typeof v !== "object") return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = unique.has(k) ? x : pooled(x, pool);
  return out;
}

/** Only the path and hash of a record's script (the rest, e.g. rendered_with, is not needed here). */
function submittedScript(script: unknown): SubmittedScript | undefined {
  if (!script || typeof script !== "object") return undefined;
  const { path, sha256 } = script as { path?: unknown; sha256?: unknown };
  const out: SubmittedScript = {};
  if (typeof path === "string") out.path = path;
  if (typeof sha256 === "string") out.sha256 = sha256;
  return out.path || out.sha256 ? out : undefined;
}
