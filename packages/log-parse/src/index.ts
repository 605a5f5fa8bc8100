import { resolve } from "node:path";
import { ErrorCounter, type LogReport, type Logger, NdjsonWriter, type RemoteOptions, RunRecord, UsageError, readNdjsonInputs, remoteHome, zodField } from "@slurmpipe/core";
import { ReportCache, worthKeeping } from "./cache.ts";
import { IncrementalStore } from "./incremental.ts";
import { type MetricPattern, parseMetricSpec } from "./user-metrics.ts";
import { type FileEntry, type ReportOptions, parseLogFile, problems, reportForRecord } from "./report.ts";
import { ParsePool } from "./pool.ts";
import { RemoteLogs } from "./remote-logs.ts";
import { MAX_LINE_BYTES } from "./scan.ts";

export { parseLogFile, reportForRecord, primaryLoss, type ReportOptions } from "./report.ts";
export { lossTrend, TREND, median } from "./trend.ts";
export { classify, CLASS_ORDER } from "./classify.ts";
export { suggest } from "./suggest.ts";
export { resolveLogPath } from "./paths.ts";
export { scanFile, scanHandle, scanStream, MAX_LINE_BYTES, type SegmentSink, type ScanStats } from "./scan.ts";
export { openLog, type Opened, type Refusal } from "./open.ts";
export { parseNumber, NUMBER_SOURCE, MAX_NUMBER_DIGITS } from "./numbers.ts";
export { cleanSegment } from "./clean.ts";
export { extractMetrics, ExtractorState } from "./metrics.ts";
export { parseMetricSpec, type MetricPattern } from "./user-metrics.ts";
export { RunAnalysis } from "./analyzer.ts";
export { Series } from "./series.ts";

export const STAGE = "log-parse";
/**
 * Records parsed at once (see `records` in logParseIn), at least: two, so that one record's
 * asynchronous work (finding metric files, the report cache, a state file's write) overlaps the
 * other's parsing. More bought nothing once logs and state files were read synchronously, and
 * cost: with 8, a cron tick over 216 runs (bench 8) took 1.01-1.04 s against 0.91-0.95 s with 1
 * or 2 (a full parse the same, 20.3-21.0 s), the records' blocks interleaved in one thread.
 */
const RECORDS_AT_ONCE = 2;
const MAX_JOBS = 64;

export interface LogParseArgs {
  /** Plain log files: each becomes a `{"kind":"log"}` record. With none, run records come from stdin. */
  files?: string[];
  metric?: string[];
  maxPoints?: number;
  baseDir?: string;
  user?: string;
  csv?: boolean;
  strict?: boolean;
  maxLineBytes?: number;
  minStepSeconds?: number;
  /** Records whose logs are parsed at once, on that many worker threads (pool.ts); default 1 (in this thread). */
  jobs?: number;
  /** Keep reports in DIR/log-parse/ and reuse those whose inputs did not change (cache.ts). */
  state?: string;
  /**
   * The logs are on HOST: read over one multiplexed ssh connection, fetching only the bytes
   * appended since the last read (copies in `<state>/log-parse/remote/`). Log paths, LOG_FILE
   * arguments and --base-dir are HOST's (relative ones from its login directory).
   */
  remote?: RemoteOptions;
}

/** A report, and its JSON text when it has one already (the report cache's). */
interface Served {
  report: LogReport;
  json?: string;
}

export interface LogParseIo {
  stdin: AsyncIterable<Buffer | string>;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  log: Logger;
  cwd?: string;
}

export function reportOptions(args: LogParseArgs, cwd: string): ReportOptions {
  const patterns: MetricPattern[] = (args.metric ?? []).map(parseMetricSpec);
  if (args.maxPoints !== undefined && !(Number.isInteger(args.maxPoints) && args.maxPoints >= 3)) throw new UsageError("--max-points: expected an integer >= 3");
  if (args.maxLineBytes !== undefined && !(Number.isInteger(args.maxLineBytes) && args.maxLineBytes >= 1024 && args.maxLineBytes <= MAX_LINE_BYTES))
    throw new UsageError(`--max-line-bytes: expected an integer from 1024 to ${MAX_LINE_BYTES}`);
  return {
    patterns,
    baseDir: resolve(cwd, args.baseDir ?? "."),
    ...(args.user ? { user: args.user } : { user: process.env.USER ?? process.env.LOGNAME }),
    ...(args.maxPoints !== undefined ? { maxPoints: args.maxPoints } : {}),
    ...(args.maxLineBytes !== undefined ? { maxLineBytes: args.maxLineBytes } : {}),
    ...(args.minStepSeconds !== undefined ? { minStepSeconds: args.minStepSeconds } : {}),
    csv: args.csv !== false,
  };
}

/**
 * The command: adds `report` to every run record (or builds `{"kind":"log"}` records for plain
 * files), passes every other record through unchanged and in order. Returns the exit code.
 */
export async function logParse(args: LogParseArgs, io: LogParseIo): Promise<number> {
  const cwd = io.cwd ?? process.cwd();
  if (!args.remote) return logParseIn(args, io, cwd, undefined);
  const remote = new RemoteLogs(args.remote, args.state ? resolve(cwd, args.state) : undefined);
  try {
    const home = await remoteHome(args.remote);
    return await logParseIn(args, io, cwd, { logs: remote, home });
  } finally {
    const s = remote.stats;
    io.log.debug(`remote: fetched ${s.fetched} bytes from ${args.remote.host} (${s.reused} bytes already here were not fetched again; ${s.refetched} logs changed in place and were fetched whole)`);
    remote.close();
  }
}

async function logParseIn(args: LogParseArgs, io: LogParseIo, cwd: string, remote: { logs: RemoteLogs; home: string } | undefined): Promise<number> {
  // Remote: paths are HOST's, relative ones from its login directory; the state stays here.
  const hostCwd = remote?.home ?? cwd;
  const options: ReportOptions = { ...reportOptions(args, hostCwd), ...(remote ? { remoteLogs: remote.logs } : {}) };
  const jobs = args.jobs ?? 1;
  if (!(Number.isInteger(jobs) && jobs >= 1 && jobs <= MAX_JOBS)) throw new UsageError(`--jobs: expected an integer from 1 to ${MAX_JOBS}`);
  const out = new NdjsonWriter(io.stdout);
  const errors = new ErrorCounter(STAGE, io.stderr);
  let failed = 0;
  let n = 0;

  // --state: logs read only from where the last run stopped (incremental.ts).
  const incremental = args.state ? new IncrementalStore(resolve(cwd, args.state), (m) => io.log.warn(m)) : undefined;
  const readStats = () => {
    if (!incremental) return;
    const s = incremental.stats;
    io.log.debug(`state: read ${s.scanned + s.hashed} bytes of ${s.total} in ${s.logs} logs (${s.resumed} went on from their state, ${s.fromStart} from the start; ${s.hashed} bytes hashed)`);
  };

  const files = args.files ?? [];
  if (files.length > 0) {
    for (const file of files) {
      const path = resolve(hostCwd, file);
      // A symlink the user names is followed anywhere; a FIFO, device, ... is still not read.
      const report = await parseLogFile(path, { ...options, anySymlink: true }, incremental).catch((e: Error) => e);
      if (report instanceof Error) {
        io.log.error(`${file}: ${report.message}`);
        failed += 1;
        await out.write({ kind: "log", path: file, error: { stage: STAGE, message: `${file}: ${report.message}`, code: "read_failed" } });
        continue;
      }
      const entry = report.files?.[0] as FileEntry | undefined;
      if (!entry?.exists || entry.refused) {
        // Named as the user typed it, like the path of the record.
        const message = entry?.refused ? `${file}${entry.note!.slice(path.length)}` : `${file}: ${entry?.note ?? "no such file"}`;
        io.log.error(message);
        failed += 1;
        const files = [{ path: file, role: "log", exists: Boolean(entry?.exists), ...(entry?.refused ? { refused: entry.refused, note: message } : {}) }];
        await out.write({ kind: "log", path: file, report: { files, ok: false }, error: { stage: STAGE, message, code: entry?.refused ? "log_not_read" : "log_not_found" } });
        continue;
      }
      for (const f of report.files ?? []) f.path = file; // as the user named it
      await out.write({ kind: "log", path: file, report });
      io.log.progress(`${++n} files`);
    }
    await incremental?.flush();
    readStats();
    return failed > 0 ? 1 : 0;
  }

  // A log that exists but is not a regular file (or a symlink out of the run), or a metrics.csv
  // read only in part: the report keeps what the other files said, and the record fails naming
  // the file (exit 1).
  const notRead = (rec: Record<string, unknown>, item: { source: string; line: number }) => {
    const bad = problems((rec.report as LogReport).files);
    if (bad.length === 0) return;
    for (const p of bad) errors.report({ source: item.source, line: item.line, message: p.message });
    rec.error = { stage: STAGE, message: bad.map((p) => p.message).join("; "), code: bad.some((p) => p.code === "log_not_read") ? "log_not_read" : "read_failed" };
  };

  // Remote: whether a log changed is known only by asking HOST, which the copies do anyway (the
  // report cache's local stat would not see a remote log grow).
  const cache = args.state && !remote ? await ReportCache.open(resolve(cwd, args.state)) : undefined;
  if (cache?.problem) io.log.warn(cache.problem);
  // --jobs: remote logs stay in this thread (their copies go through the one ssh connection).
  const pool = jobs > 1 && !remote ? await ParsePool.start(jobs, { options, ...(args.state ? { state: resolve(cwd, args.state) } : {}) }, (m) => io.log.warn(m)) : undefined;
  const parse = (record: RunRecord) => (pool ? pool.report(record) : reportForRecord(record, options, cache ? incremental : undefined));
  // With the cache, a report is serialised once: the text stored is the text written (`json`).
  const report = async (record: RunRecord): Promise<Served> => {
    if (!cache) return { report: await parse(record) };
    if (!worthKeeping(record)) {
      cache.forget(record, options);
      return { report: await parse(record) };
    }
    const found = await cache.lookup(record, options);
    if (found.report) return { report: found.report, json: found.json };
    const fresh = await parse(record);
    const json = JSON.stringify(fresh);
    cache.store(found.key, found.inputs, json);
    return { report: fresh, json };
  };
  let code: number;
  try {
    code = await records(report);
  } finally {
    const s = await pool?.close();
    if (s && incremental) for (const k of Object.keys(s) as (keyof typeof s)[]) incremental.stats[k] += s[k];
  }
  await cache?.save();
  await incremental?.flush();
  readStats();
  return code;

  /**
   * Records are parsed RECORDS_AT_ONCE at a time (2 * --jobs with workers) and written in input
   * order. Remote: one at a time (every read is a round trip over the one ssh connection anyway).
   */
  async function records(report: (record: RunRecord) => Promise<Served>): Promise<number> {
    const inFlight: Promise<{ rec: Record<string, unknown>; json?: string; stop: boolean }>[] = [];
    const width = remote ? 1 : Math.max(RECORDS_AT_ONCE, 2 * jobs);
    // The records after a --strict stop are not written, but their state files are let finish.
    const stopped = async () => {
      await Promise.allSettled(inFlight);
      return 1;
    };
    const writeNext = async (): Promise<boolean> => {
      const { rec, json, stop } = await inFlight.shift()!;
      await (json === undefined ? out.write(rec) : out.writeWith(rec, "report", json));
      io.log.progress(`${++n} records`);
      return stop;
    };
    for await (const item of readNdjsonInputs<Record<string, unknown>>([], { stdin: io.stdin, onError: errors.report, ...(args.strict ? { strict: true } : {}) })) {
      inFlight.push(one(item, report));
      // --strict: the first invalid record is the last one written (those before it are).
      while (inFlight.length >= width) if (await writeNext()) return stopped();
    }
    while (inFlight.length > 0) if (await writeNext()) return stopped();
    return errors.count > 0 || failed > 0 ? 1 : 0;
  }

  async function one(item: { value: Record<string, unknown>; source: string; line: number }, report: (record: RunRecord) => Promise<Served>): Promise<{ rec: Record<string, unknown>; json?: string; stop: boolean }> {
    const rec = item.value;
    const kind = rec.kind;
    try {
      if (kind === "log" && typeof rec.path === "string") {
        rec.report = await parseLogFile(resolve(hostCwd, rec.path), options, incremental);
        notRead(rec, item);
      } else if (kind === undefined || kind === "run") {
        const parsed = RunRecord.safeParse(rec);
        if (!parsed.success) {
          const { field, message } = zodField(parsed.error);
          errors.report({ source: item.source, line: item.line, ...(field ? { field } : {}), message });
          rec.error = { stage: STAGE, message: `${field ? `field "${field}": ` : ""}${message}`, code: "invalid_record" };
          if (args.strict) return { rec, stop: true };
        } else if (rec.logs || rec.job || rec.state) {
          const served = await report(parsed.data);
          rec.report = served.report;
          notRead(rec, item);
          if (served.json !== undefined) return { rec, json: served.json, stop: false };
        }
      }
    } catch (e) {
      errors.report({ source: item.source, line: item.line, message: (e as Error).message });
      rec.error = { stage: STAGE, message: (e as Error).message, code: "read_failed" };
    }
    return { rec, stop: false };
  }
}
