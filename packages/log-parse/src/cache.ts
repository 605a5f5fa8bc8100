import { createHash } from "node:crypto";
import { mkdir, readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type LogReport, type RunRecord, writeFileAtomic } from "@slurmpipe/core";
import { findMetricsCsv, findTrainerState } from "./csv.ts";
import { findMlflowRun, metricFiles } from "./mlflow.ts";
import { moreMetricInputs } from "./more-metric-files.ts";
import { defaultPatterns, resolveLogPath } from "./paths.ts";
import type { ReportOptions } from "./report.ts";

/**
 * `--state DIR`: the report of a record whose inputs did not change since the last run is taken
 * from DIR/log-parse/reports.json instead of reading its logs again. Inputs: the record's fields
 * that feed the report (logs, job, state, resources, params, dir), the options, and every file the
 * report would read (the logs and the metric files found under `dir`) with its device, inode,
 * size, mtime and ctime. A file that grew, shrank, was replaced or appeared makes a full parse of
 * that record (reading only the appended bytes is not done yet: issue #15).
 */
const VERSION = 1;
const MAX_ENTRIES = 20_000;

interface FileStat {
  path: string;
  stat: [number, number, number, number, number] | null;
}

interface Entry {
  inputs: FileStat[];
  report: LogReport;
}

export class ReportCache {
  private constructor(
    private readonly file: string,
    private readonly entries: Map<string, Entry>,
    /** Why the cache file was not usable (it is rebuilt), for a warning. */
    readonly problem?: string,
  ) {}

  static async open(stateDir: string): Promise<ReportCache> {
    const file = join(resolve(stateDir), "log-parse", "reports.json");
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch {
      return new ReportCache(file, new Map());
    }
    try {
      const data = JSON.parse(text) as { v: number; entries: [string, Entry][] };
      if (data.v !== VERSION || !Array.isArray(data.entries)) return new ReportCache(file, new Map(), `${file}: another version; rebuilt`);
      return new ReportCache(file, new Map(data.entries));
    } catch (e) {
      return new ReportCache(file, new Map(), `${file}: not readable (${(e as Error).message}); rebuilt`);
    }
  }

  /** The cached report when every input is as it was, else undefined; `inputs` is what to store. */
  async lookup(record: Partial<RunRecord>, options: ReportOptions): Promise<{ key: string; inputs: FileStat[]; report?: LogReport }> {
    const key = keyOf(record, options);
    const inputs = await inputsOf(record, options);
    const hit = this.entries.get(key);
    if (hit && JSON.stringify(hit.inputs) === JSON.stringify(inputs)) return { key, inputs, report: hit.report };
    return { key, inputs };
  }

  store(key: string, inputs: FileStat[], report: LogReport): void {
    this.entries.delete(key); // re-inserted last: the oldest are dropped first
    this.entries.set(key, { inputs, report });
    while (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
  }

  async save(): Promise<void> {
    // Owner only: reports quote log lines (evidence), which can hold what only the owner may read.
    await mkdir(join(this.file, ".."), { recursive: true, mode: 0o700 });
    const text = JSON.stringify({ v: VERSION, entries: [...this.entries] });
    await writeFileAtomic(this.file, async (fh) => {
      await fh.chmod(0o600);
      await fh.writeFile(text);
    });
  }
}

function keyOf(record: Partial<RunRecord>, options: ReportOptions): string {
  const { id, name, logs, job, state, resources, params, dir } = record;
  const opts = { ...options, patterns: (options.patterns ?? []).map((p) => [p.name, p.re.source]) };
  return createHash("sha256").update(JSON.stringify({ v: VERSION, id, name, logs, job, state, resources, params, dir, opts })).digest("hex");
}

/** The files the report would read, in a fixed order, each with what tells a change. */
async function inputsOf(record: Partial<RunRecord>, options: ReportOptions): Promise<FileStat[]> {
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
