import { resolve } from "node:path";
import { type Failure, type LogReport, type RunRecord, parseState } from "@slurmpipe/core";
import { RunAnalysis, evidence } from "./analyzer.ts";
import { classify } from "./classify.ts";
import { findMetricsCsv, findTrainerState, readMetricsCsv } from "./csv.ts";
import { findMlflowRun, readMlflowRun } from "./mlflow.ts";
import { readTrainerState } from "./trainer-state.ts";
import { findNewestEvents, readTfevents } from "./tfevents.ts";
import { findTorchtuneLog, readTorchtuneLog } from "./torchtune-log.ts";
import { gpuRequest } from "./gpus.ts";
import type { MetricPattern } from "./user-metrics.ts";
import { type PatternContext, defaultPatterns, resolveLogPath } from "./paths.ts";
import { type OpenOptions, type Refusal, openLog } from "./open.ts";
import type { IncrementalStore, LogChain } from "./incremental.ts";
import type { RemoteLogs } from "./remote-logs.ts";
import { type ScanOptions, type ScanStats, scanHandle } from "./scan.ts";
import type { Series } from "./series.ts";
import { lossTrend } from "./trend.ts";

export interface ReportOptions extends PatternContext, ScanOptions {
  patterns?: readonly MetricPattern[];
  /** Points per metric in `series` (default 500). */
  maxPoints?: number;
  /** Look for a Lightning metrics.csv under the run's `dir` (default true). */
  csv?: boolean;
  /** Below this many seconds per step a finished run is flagged CPU_ONLY_SUSPECTED... (default 0.1). */
  minStepSeconds?: number;
  /** Follow a log's symlink wherever it points (LOG_FILE arguments: the user named them). */
  anySymlink?: boolean;
  /** --remote: the logs are HOST's, read through local copies that fetch only appended bytes (remote-logs.ts). */
  remoteLogs?: RemoteLogs;
}

export type FileEntry = NonNullable<LogReport["files"]>[number] & { note?: string; refused?: Refusal; read_error?: string };

/** Loss metric names in order of preference; otherwise the first training-side "*loss*". */
const LOSS_PRIORITY = ["loss", "train_loss", "train_loss_step", "lm_loss", "train/loss", "loss_train", "train_loss_epoch", "total_loss"];
/** A non-finite value in one of these means the training blew up, even if `loss` looks fine (HF filters NaN losses to 0). */
const NAN_SENSITIVE = /loss|grad_norm|gnorm/;

export function primaryLoss(series: Map<string, Series>): Series | undefined {
  for (const n of LOSS_PRIORITY) {
    const s = series.get(n);
    if (s) return s;
  }
  for (const [n, s] of series) if (/loss/.test(n) && !/^(?:val|eval|valid|test)|scale|ppl/.test(n)) return s;
  return undefined;
}

/** Parses one log file as its own run (what `log-parse FILE` and the benchmark do). */
export async function parseLogFile(path: string, options: ReportOptions = {}, incremental?: IncrementalStore): Promise<LogReport> {
  const chain = incremental?.chain(options);
  const scanned = await scanInto(new RunAnalysis({ ...(options.patterns ? { patterns: options.patterns } : {}) }), path, "log", options, { anySymlink: options.anySymlink === true }, chain);
  await chain?.save();
  return buildReport(scanned.run, [scanned.entry], {}, options);
}

/**
 * What makes the record fail: a log that exists but was not read (open.ts; `note` says why), or a
 * file read only in part (`read_error`). The report keeps what the other files said.
 */
export function problems(files: readonly FileEntry[] | undefined): { message: string; code: "log_not_read" | "read_failed" }[] {
  const out: { message: string; code: "log_not_read" | "read_failed" }[] = [];
  for (const f of files ?? []) {
    if (f.refused !== undefined) out.push({ message: f.note ?? f.path, code: "log_not_read" });
    else if (f.read_error !== undefined) out.push({ message: f.read_error, code: "read_failed" });
  }
  return out;
}

/** Scans one log into `run`; with a chain (--state), goes on from where the last run stopped, and the analyzer may be a restored one. */
async function scanInto(run: RunAnalysis, path: string, role: string, options: ScanOptions & Pick<ReportOptions, "remoteLogs">, open: OpenOptions, chain?: LogChain): Promise<{ run: RunAnalysis; entry: FileEntry }> {
  // Remote: HOST checks the file's kind and symlink (same rules), the copy is read as a local log.
  const copy = options.remoteLogs ? await options.remoteLogs.copy(path, open) : undefined;
  const opened = copy ? (copy.ok ? await openLog(copy.local) : copy) : await openLog(path, open);
  if (!opened.ok) {
    await chain?.skip(path);
    if (!opened.exists) return { run, entry: { path, role, exists: false, ...(opened.message ? { note: opened.message } : {}) } };
    return { run, entry: { path, role, exists: true, refused: opened.refused, note: opened.message } };
  }
  try {
    let stats: ScanStats;
    if (chain) ({ run, stats } = await chain.scan(run, path, opened.handle, opened.size, opened.stat, options));
    else stats = await scanHandle(opened.handle, opened.size, run.sink(path), options);
    const entry: FileEntry = { path, role, exists: true, lines: stats.lines, bytes: stats.bytes, ...(stats.partialLastLine ? { partial_last_line: true } : {}), ...(stats.oversize ? { oversize_lines: stats.oversize } : {}) };
    return { run, entry };
  } finally {
    await opened.handle.close();
  }
}

/** The report for a run record: resolves its log patterns, reads stdout, stderr and metrics.csv. */
export async function reportForRecord(record: Partial<RunRecord>, options: ReportOptions = {}, incremental?: IncrementalStore): Promise<LogReport> {
  const chain = incremental?.chain(options);
  let run = new RunAnalysis({ ...(options.patterns ? { patterns: options.patterns } : {}) });
  const files: FileEntry[] = [];
  const logs: { stdout?: string; stderr?: string } = record.logs ?? (record.job ? defaultPatterns(record) : {});
  const seen = new Map<string, FileEntry>();
  for (const role of ["stdout", "stderr"] as const) {
    const pattern = logs[role];
    if (!pattern) continue;
    const r = await resolveLogPath(pattern, record, options);
    const again = seen.get(r.path);
    if (again) {
      again.role = `${again.role}+${role}`; // --output and --error name the same file
      continue;
    }
    const scanned = await scanInto(run, r.path, role, options, { roots: record.dir ? [resolve(record.dir)] : [] } /* as metrics.csv is found */, chain);
    run = scanned.run;
    const entry = scanned.entry;
    if (r.note) entry.note = entry.note ? `${entry.note}; ${r.note}` : r.note;
    if (r.how === "guessed") entry.guessed = true;
    seen.set(r.path, entry);
    files.push(entry);
  }
  await chain?.save();
  const fromConsole = new Set(run.series.values());
  const preferRicher = (fromFile: RunAnalysis) => preferFileSeries(run, fromFile, fromConsole);
  // Remote: the metric files under the dir on HOST, mirrored here (remote-logs.ts), named by HOST's paths.
  const mirrored = options.csv !== false && record.dir && options.remoteLogs ? await options.remoteLogs.mirrorDir(record.dir) : undefined;
  if (mirrored?.problem) files.push({ path: record.dir!, role: "metrics", exists: true, read_error: mirrored.problem });
  const metricsDir = mirrored ? mirrored.local : record.dir;
  const metricFiles: FileEntry[] = [];
  if (options.csv !== false && metricsDir) {
    const files = metricFiles;
    const csv = await findMetricsCsv(metricsDir);
    if (csv) {
      const fromCsv = new RunAnalysis();
      const { rows, bytes, error } = await readMetricsCsv(csv, fromCsv);
      files.push({ path: csv, role: "metrics", exists: true, lines: rows + 1, bytes, ...(error ? { read_error: error } : {}) });
      preferRicher(fromCsv);
    }
    const state = await findTrainerState(metricsDir);
    if (state) {
      const fromState = new RunAnalysis();
      const { entries, bytes, note } = await readTrainerState(state, fromState);
      files.push({ path: state, role: "trainer_state", exists: true, entries, bytes, ...(note ? { note } : {}) } as FileEntry);
      preferRicher(fromState);
    }
    const mlflow = await findMlflowRun(metricsDir);
    if (mlflow) {
      const fromMlflow = new RunAnalysis();
      const { path, points, bytes, note } = await readMlflowRun(mlflow, fromMlflow);
      files.push({ path, role: "mlflow", exists: true, points, bytes, ...(note ? { note } : {}) } as FileEntry);
      preferRicher(fromMlflow);
    }
    const events = await findNewestEvents(metricsDir);
    if (events) {
      const fromEvents = new RunAnalysis();
      const { path, files: n, records, points, bytes, note } = await readTfevents(events, fromEvents);
      files.push({ path, role: "tfevents", exists: true, files: n, records, points, bytes, ...(note ? { note } : {}) } as FileEntry);
      preferRicher(fromEvents);
    }
    const tt = await findTorchtuneLog(metricsDir);
    if (tt) {
      const fromTorchtune = new RunAnalysis();
      const { lines, points, bytes, note } = await readTorchtuneLog(tt, fromTorchtune);
      files.push({ path: tt, role: "torchtune_log", exists: true, lines, points, bytes, ...(note ? { note } : {}) } as FileEntry);
      preferRicher(fromTorchtune);
    }
  }
  for (const f of metricFiles) files.push(mirrored ? hostNamed(f, mirrored.onHost) : f);
  return buildReport(run, files, record, options);
}

/** A metric file's entry with HOST's paths in its path and notes. */
function hostNamed(f: FileEntry, onHost: (text: string) => string): FileEntry {
  const out: FileEntry = { ...f, path: onHost(f.path) };
  if (f.note !== undefined) out.note = onHost(f.note);
  if (f.read_error !== undefined) out.read_error = onHost(f.read_error);
  return out;
}

/**
 * Per metric, a metrics file's series replaces the console's when it has as many points or more: it
 * has every logged step, with the trainer's own step numbers and full precision, where the console
 * often has a few points, the last bar state, or (HF Trainer's printed dicts) rounded values and
 * no step at all. Between two files, one replaces the other only with more points.
 */
function preferFileSeries(run: RunAnalysis, fromFile: RunAnalysis, fromConsole: Set<unknown>): void {
  for (const [name, s] of fromFile.series) {
    const mine = run.series.get(name);
    if (!mine || s.count > mine.count || (fromConsole.has(mine) && s.count === mine.count)) run.series.set(name, s);
  }
}

function buildReport(run: RunAnalysis, files: FileEntry[], record: Partial<RunRecord>, options: ReportOptions): LogReport {
  const maxPoints = options.maxPoints ?? 500;
  const loss = primaryLoss(run.series);

  // Non-finite training values are a NaN failure even when no message says so.
  let nanSeries: Series | undefined;
  for (const [n, s] of run.series) if (s.firstNonFinite && NAN_SENSITIVE.test(n) && (!nanSeries || s === loss)) nanSeries = s;
  if (nanSeries?.firstNonFinite) {
    const f = nanSeries.firstNonFinite;
    run.signal("NAN_LOSS", `${nanSeries.name} became ${f.raw}${f.step !== undefined ? ` at step ${f.step}` : ""}`, evidence(f.file, f.line, nanSeries.firstNonFiniteText ?? readableLine(f)));
    const sig = run.signals.get("NAN_LOSS")!;
    sig.what = `${nanSeries.name} became ${f.raw}${f.step !== undefined ? ` at step ${f.step}` : ""}`;
  }

  const series: Record<string, { step: number; value: number | null; raw?: string }[]> = {};
  for (const [n, s] of run.series) series[s === loss ? "loss" : n] = s.downsample(maxPoints);
  if (loss && loss.name !== "loss" && run.series.has("loss")) delete series[loss.name];

  const report: LogReport & Record<string, unknown> = { files };
  const steps = loss ? (loss.explicitSteps ? Math.max(0, loss.maxStep) : loss.count) : 0;
  report.steps_seen = steps;
  if (loss) {
    const t = lossTrend(loss.values(), Boolean(loss.firstNonFinite) || Boolean(nanSeries?.firstNonFinite));
    report.loss = {
      metric: loss.name,
      first: finiteOrNull(loss.first?.value),
      last: finiteOrNull(loss.last?.value),
      min: loss.min ? loss.min.value : null,
      trend: t.trend,
      points: loss.count,
      ...(t.start !== undefined ? { window_start: t.start, window_end: t.end } : {}),
      ...(loss.firstNonFinite ? { first_nonfinite: { ...loss.firstNonFinite } } : nanSeries?.firstNonFinite ? { first_nonfinite: { ...nanSeries.firstNonFinite, metric: nanSeries.name } } : {}),
    };
  } else {
    // No loss printed, but another training value went non-finite (Megatron's `grad norm: nan`): say where.
    report.loss = { first: null, last: null, min: null, trend: nanSeries ? "NAN" : "NO_DATA", ...(nanSeries?.firstNonFinite ? { first_nonfinite: { ...nanSeries.firstNonFinite, metric: nanSeries.name } } : {}) };
  }
  report.series = series;
  const failures: Failure[] = classify({ record, signals: run.signals, exceptions: run.exceptions, deaths: run.deaths });
  report.failures = failures;
  report.benign_warnings = run.benignWarnings;
  report.flags = flags(run, record, files, steps, options);
  report.ok = failures.length === 0;
  return report;
}

function readableLine(f: { raw: string; step?: number }): string {
  return `${f.raw}${f.step !== undefined ? ` (step ${f.step})` : ""}`;
}

function finiteOrNull(v: number | undefined): number | null {
  return v !== undefined && Number.isFinite(v) ? v : null;
}

function flags(run: RunAnalysis, record: Partial<RunRecord>, files: FileEntry[], steps: number, options: ReportOptions): { flag: string; message: string }[] {
  const out: { flag: string; message: string }[] = [];
  const state = record.state;
  const terminal = state ? parseState(state.state).terminal : false;
  // The GPU checks only concern runs that asked for GPUs: a CPU job saying "GPU available: False" is right.
  const gpus = gpuRequest(record.resources);
  if (gpus && run.cpuLine) out.push({ flag: "CPU_ONLY_SUSPECTED", message: `${gpus.what} requested but the log says the run used the CPU: ${run.cpuLine.file}:${run.cpuLine.line}: ${run.cpuLine.text}` });
  else if (gpus && state?.elapsed_s !== undefined && terminal && steps >= 10) {
    const perStep = state.elapsed_s / steps;
    const min = options.minStepSeconds ?? 0.1;
    if (perStep < min)
      out.push({ flag: "CPU_ONLY_SUSPECTED", message: `${steps} steps in ${state.elapsed_s} s (${perStep.toFixed(3)} s/step, under ${min}): suspiciously fast for a real model; check that it trained on the GPU and on the full data` });
  }
  const read = files.some((f) => f.exists && !f.refused);
  if (gpus && !run.gpuLine && read && (terminal || steps > 0))
    out.push({ flag: "NO_GPU_DEVICE_LINE", message: `${gpus.what} requested but no line in the logs shows a GPU in use (print torch.cuda.get_device_name() or run nvidia-smi/rocm-smi at start)` });
  if (terminal && state && parseState(state.state).state !== "CANCELLED") {
    for (const f of files) if (!f.exists) out.push({ flag: "LOG_MISSING", message: `${f.role} log ${f.path} does not exist although the job ended ${state.state}` });
  }
  if (files.some((f) => f.guessed)) out.push({ flag: "LOG_PATH_GUESSED", message: "an array task's log path was guessed (the raw job id behind %j is unknown); add job.raw_id for an exact path" });
  if (run.droppedMetrics > 0) out.push({ flag: "TOO_MANY_METRICS", message: `more than 48 metric names; ${run.droppedMetrics} values of further metrics were ignored` });
  const loss = primaryLoss(run.series);
  if (state?.state === "COMPLETED" && !loss && read) out.push({ flag: "NO_LOSS_LINES", message: "the job completed but no loss was found in its logs (use --metric 'loss=<regex>' for a custom format)" });
  return out;
}
