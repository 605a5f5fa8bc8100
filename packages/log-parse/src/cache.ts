import { createHash } from "node:crypto";
import { mkdir, readFile, stat, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type LogReport, type RunRecord, writeFileAtomic } from "@slurmpipe/core";
import { findMetricsCsv, findTrainerState } from "./csv.ts";
import { findMlflowRun, metricFiles } from "./mlflow.ts";
import { moreMetricInputs } from "./more-metric-files.ts";
import { defaultPatterns, resolveLogPath } from "./paths.ts";
import type { ReportOptions } from "./report.ts";

/**
 * `--state DIR`: the report of a record whose inputs did not change since the last run is taken
 * from DIR/log-parse/reports.cache instead of reading its logs again. Inputs: the record's fields
 * that feed the report (job, state, resources, params), the options, and every file the report
 * would read (the logs and the metric files found under `dir`) with its device, inode, size,
 * mtime and ctime. A file that grew, shrank, was replaced or appeared makes a new report of that
 * record (of a log that grew, only the appended bytes are read: incremental.ts).
 *
 * One entry per run (its id, name, logs, dir and the options): a run's new report replaces its
 * old one. Keyed on all the inputs, a running job's entries piled up: its state changes with
 * every poll (confirmed_at, elapsed_s), so each cron tick added a report that was never served.
 * For the same reason a running job's report is not stored at all (`worthKeeping`): it would be
 * stale by the next poll, and its next report is cheap from the scan state anyway (bench 8).
 *
 * The file: a first line `slurmpipe-reports <VERSION>`, then one line per run: its key (hex),
 * a tab, its inputs as JSON, a tab, its report as JSON (JSON text holds no raw tab or newline).
 * Reports are kept as text and parsed only when one is served.
 */
const VERSION = 3;
const HEADER = `slurmpipe-reports ${VERSION}`;
const MAX_ENTRIES = 20_000;
const KEY = /^[0-9a-f]{64}$/;

interface FileStat {
  path: string;
  stat: [number, number, number, number, number] | null;
}

interface Inputs {
  record: Partial<Pick<RunRecord, "job" | "state" | "resources" | "params">>;
  files: FileStat[];
}

interface Entry {
  /** The inputs as JSON text (compared as text). */
  inputs: string;
  /** The report as JSON text. */
  report: string;
}

export class ReportCache {
  private constructor(
    private readonly file: string,
    private readonly entries: Map<string, Entry>,
    /** Why the cache file was not usable (it is rebuilt), for a warning. */
    readonly problem?: string,
  ) {}

  static async open(stateDir: string): Promise<ReportCache> {
    const file = join(resolve(stateDir), "log-parse", "reports.cache");
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch {
      return new ReportCache(file, new Map());
    }
    const lines = text.split("\n");
    if (lines[0] !== HEADER) {
      // An older version's file is what an upgrade leaves: rebuilt quietly (cron mails stderr).
      const older = /^slurmpipe-reports (\d+)$/.exec(lines[0] ?? "");
      if (older && Number(older[1]) < VERSION) return new ReportCache(file, new Map());
      return new ReportCache(file, new Map(), `${file}: ${older ? "another version" : "not readable (no header)"}; rebuilt`);
    }
    const entries = new Map<string, Entry>();
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      if (line === "" && i === lines.length - 1) break;
      const a = line.indexOf("\t");
      const b = a < 0 ? -1 : line.indexOf("\t", a + 1);
      const key = line.slice(0, a);
      if (b < 0 || !KEY.test(key)) return new ReportCache(file, new Map(), `${file}: not readable (line ${i + 1}); rebuilt`);
      entries.set(key, { inputs: line.slice(a + 1, b), report: line.slice(b + 1) });
    }
    return new ReportCache(file, entries);
  }

  /** The cached report (and its text) when every input is as it was, else undefined; `inputs` is what to store. */
  async lookup(record: Partial<RunRecord>, options: ReportOptions): Promise<{ key: string; inputs: Inputs; report?: LogReport; json?: string }> {
    const key = keyOf(record, options);
    const inputs = await inputsOf(record, options);
    const hit = this.entries.get(key);
    if (hit && hit.inputs === JSON.stringify(inputs)) {
      try {
        return { key, inputs, report: JSON.parse(hit.report) as LogReport, json: hit.report };
      } catch {
        // A damaged line: parsed again (and replaced).
      }
    }
    return { key, inputs };
  }

  /** `report`: the report as JSON text (what it is when stored is what is served). */
  store(key: string, inputs: Inputs, report: string): void {
    this.entries.delete(key); // re-inserted last: the oldest are dropped first
    this.entries.set(key, { inputs: JSON.stringify(inputs), report });
    while (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Drops the run's entry (a report that is not kept: its old one will not be served either). */
  forget(record: Partial<RunRecord>, options: ReportOptions): void {
    this.entries.delete(keyOf(record, options));
  }

  async save(): Promise<void> {
    // Owner only: reports quote log lines (evidence), which can hold what only the owner may read.
    await mkdir(join(this.file, ".."), { recursive: true, mode: 0o700 });
    const parts = [HEADER];
    for (const [key, e] of this.entries) parts.push(`${key}\t${e.inputs}\t${e.report}`);
    await writeFileAtomic(this.file, async (fh) => {
      await fh.chmod(0o600);
      await fh.writeFile(`${parts.join("\n")}\n`);
    });
    // The version-1 file (one JSON document) is not read any more.
    await unlink(join(this.file, "..", "reports.json")).catch(() => {});
  }
}

/** Which run (and how it is read): one entry each. */
function keyOf(record: Partial<RunRecord>, options: ReportOptions): string {
  const { id, name, logs, dir } = record;
  const opts = { ...options, patterns: (options.patterns ?? []).map((p) => [p.name, p.re.source]) };
  return createHash("sha256").update(JSON.stringify({ v: VERSION, id, name, logs, dir, opts })).digest("hex");
}

/** A job that is still running: its state changes with the next poll, so its report is not kept. */
export function worthKeeping(record: Partial<RunRecord>): boolean {
  return record.state?.terminal !== false;
}

/** What the report is made of: the record's fields that feed it, and its files. */
async function inputsOf(record: Partial<RunRecord>, options: ReportOptions): Promise<Inputs> {
  const { job, state, resources, params } = record;
  return { record: { job, state, resources, params }, files: await filesOf(record, options) };
}

/** The files the report would read, in a fixed order, each with what tells a change. */
async function filesOf(record: Partial<RunRecord>, options: ReportOptions): Promise<FileStat[]> {
  const paths: string[] = [];
  const logs: { stdout?: string; stderr?: string } = record.logs ?? (record.job ? defaultPatterns(record) : {});
  for (const role of ["stdout", "stderr"] as const) {
    const pattern = logs[role];
    if (pattern) paths.push((await resolveLogPath(pattern, record, options)).path);
  }
  if (options.csv !== false && record.dir) {
    const csv = await findMetricsCsv(record.dir);
    if (csv) paths.push(csv);
    const state = await findTrainerState(record.dir);
    if (state) paths.push(state);
    const mlflow = await findMlflowRun(record.dir);
    if (mlflow) paths.push(mlflow, ...(await metricFiles(join(mlflow, "metrics"))));
    paths.push(...(await moreMetricInputs(record.dir)));
  }
  const out: FileStat[] = [];
  for (const path of paths) {
    const s = await stat(path).catch(() => null);
    out.push({ path, stat: s ? [s.dev, s.ino, s.size, s.mtimeMs, s.ctimeMs] : null });
  }
  return out;
}
