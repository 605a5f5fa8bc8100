import { once } from "node:events";
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { mkdir, rm, stat, unlink } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { DirectoryError, type Logger, SCHEMA_VERSION, mkdirp } from "@slurmpipe/core";
import { checkFiles, reportProblems } from "./checks.ts";
import { type Candidate, type Problem, type RunInput, collectFiles } from "./collect.ts";
import { loadPrevious, newestArchive, type PreviousFile } from "./incremental.ts";
import { formatStamp, safeComponent } from "./layout.ts";
import { MANIFEST, type ManifestEntry, SUMS } from "./manifest.ts";
import { attemptAt } from "./attempts.ts";
import { type MetricsSource, hasMetrics, writeDataset } from "./metrics.ts";
import { shouldCompress } from "./roles.ts";
import { type ArchiveFormat, openSink } from "./sinks.ts";
import { baseEntry, storeFile, unchanged } from "./store.ts";
import { verifyArchive } from "./verify.ts";

export interface PackOptions {
  out: string;
  name?: string;
  now: Date;
  format: ArchiveFormat;
  compressOver: number;
  level: number;
  outputsOnly: boolean;
  exclude: string[];
  logBase: string;
  allowMissing: boolean;
  checkOnly: boolean;
  /** Explicit earlier archive to diff against. */
  incrementalFrom?: string;
  /** Diff against the newest archive of the same name in `out`. */
  incremental: boolean;
  /** Hash sources even when size and mtime match the previous archive. */
  rehash: boolean;
  pruneSources: boolean;
  verifyAfter: boolean;
  outlierRatio: number;
  dataset: boolean;
}

export interface PackContext {
  writer: { write(record: unknown): Promise<void> };
  log: Logger;
}

/** Problems that stop packing unless --allow-missing: the sweep is not complete yet. */

const EXT: Record<ArchiveFormat, string> = { dir: "", "tar.gz": ".tar.gz", "tar.zst": ".tar.zst" };

export function archiveName(runs: RunInput[], explicit?: string): string {
  if (explicit) return safeComponent(explicit);
  const groups = new Set(runs.map((r) => r.record.group).filter((g): g is string => typeof g === "string" && g !== ""));
  return groups.size === 1 ? safeComponent([...groups][0]!) : "archive";
}

/** Archives the runs' files; returns the exit code. */
export async function pack(runs: RunInput[], options: PackOptions, ctx: PackContext): Promise<number> {
  const { writer, log } = ctx;
  let failed = false;
  const out = resolve(options.out);
  const { files, problems } = await collectFiles(runs, { outputsOnly: options.outputsOnly, exclude: options.exclude, logBase: options.logBase });
  // Never archive the archives (an --out inside a run directory).
  const candidates = files.filter((f) => !f.source.startsWith(`${out}/`));
  problems.push(...checkFiles(runs, candidates, { outlierRatio: options.outlierRatio }));

  // Problems found later (while files are read) go the same way, one at a time.
  const emitProblem = async (p: Problem) => {
    if ((await reportProblems([p], Boolean(options.allowMissing), writer, log)).failed) failed = true;
  };
  const reported = await reportProblems(problems, Boolean(options.allowMissing), writer, log);
  if (reported.failed) failed = true;
  const { blocked } = reported;
  if (options.checkOnly) return failed ? 1 : 0;
  if (blocked) {
    log.error("not archiving: declared outputs are missing or empty (use --allow-missing to archive what exists)");
    return 1;
  }

  const name = archiveName(runs, options.name);
  const finalPath = join(out, `${name}-${formatStamp(options.now)}${EXT[options.format]}`);
  if (await stat(finalPath).catch(() => undefined)) throw new Error(`${finalPath} already exists; not overwritten`);
  await mkdirp(out).catch((e: NodeJS.ErrnoException) => {
    throw new DirectoryError(out, e, "--out directory", "the archive is written there: give --out a writable directory");
  });

  const previousPath = options.incrementalFrom ? resolve(options.incrementalFrom) : options.incremental ? await newestArchive(out, name) : undefined;
  let previous = new Map<string, PreviousFile>();
  if (previousPath) {
    if (resolve(dirname(previousPath)) !== out) throw new Error(`--incremental-from ${previousPath}: must be in --out ${out} (archives refer to each other by name)`);
    previous = await loadPrevious(previousPath);
    log.info(`incremental: comparing with ${previousPath} (${previous.size} files)`);
  }

  const tmp = join(out, `.${name}.tmp-${process.pid}`);
  await mkdir(tmp, { recursive: true });
  const sink = openSink(options.format, finalPath, { level: options.level, tmpDir: tmp });
  const manifest = createWriteStream(join(tmp, MANIFEST), { flags: "wx" });
  const sums = createWriteStream(join(tmp, SUMS), { flags: "wx" });
  const archived: ManifestEntry[] = [];
  const totals = { files: 0, stored: 0, unchanged: 0, bytes: 0, stored_bytes: 0 };
  const allPaths = new Set(candidates.map((c) => c.path));
  let completed = false;

  const record = async (entry: ManifestEntry) => {
    await put(manifest, `${JSON.stringify(entry)}\n`);
    if (entry.unchanged_from === undefined) await put(sums, `${entry.stored_sha256 ?? entry.sha256}  ${entry.stored_as ?? entry.path}\n`);
    archived.push(entry);
    totals.files += 1;
    totals.bytes += entry.size;
    if (entry.unchanged_from !== undefined) totals.unchanged += 1;
    else {
      totals.stored += 1;
      totals.stored_bytes += entry.stored_size ?? entry.size;
    }
    await writer.write(entry);
  };

  try {
    let n = 0;
    for (const f of [...candidates].sort((a, b) => a.path.localeCompare(b.path))) {
      n += 1;
      log.progress(`${n}/${candidates.length} ${f.path}`);
      const prev = previous.get(f.path);
      const reuse = prev ? await unchanged(f, prev, options.rehash) : undefined;
      if (prev && reuse) {
        await record({
          ...baseEntry(f),
          sha256: prev.entry.sha256,
          ...(prev.entry.compressed ? { compressed: prev.entry.compressed, stored_size: prev.entry.stored_size, stored_sha256: prev.entry.stored_sha256 } : {}),
          stored_as: prev.stored,
          unchanged_from: prev.holder,
        });
        continue;
      }
      let compress = options.level > 0 && shouldCompress(f.path, f.size, options.compressOver);
      if (compress && allPaths.has(`${f.path}.gz`)) {
        log.warn(`${f.path}: stored uncompressed, ${f.path}.gz is also a source file`);
        compress = false;
      }
      try {
        // Byte progress inside big files (a TTY only; throttled so it costs nothing on small ones).
        let shown = 0;
        const progress = (bytes: number) => {
          const t = Date.now();
          if (t - shown < 500) return;
          shown = t;
          log.progress(`${n}/${candidates.length} ${f.path} ${Math.floor((100 * bytes) / Math.max(f.size, 1))}%`);
        };
        await record(await storeFile(sink, f, compress, Math.min(options.level, 9), true, progress));
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        // A file we cannot read is reported and skipped; a broken archive stream is fatal.
        if (err.code === "ENOTREGULAR") {
          await emitProblem({ run_id: f.run_id, name: f.run_name, problem: "special_file", severity: "error", path: f.source, message: `${f.source}: ${err.message} (it changed since it was listed)` });
          continue;
        }
        if (err.code === "ENOENT" || err.code === "EACCES" || err.code === "EISDIR") {
          await emitProblem({ run_id: f.run_id, name: f.run_name, problem: "unreadable", severity: "error", path: f.source, message: `${f.source}: ${err.message}` });
          continue;
        }
        throw e;
      }
      const after = await stat(f.source).catch(() => undefined);
      if (!after || after.size !== f.size || Math.floor(after.mtimeMs) !== f.mtimeMs) {
        await emitProblem({ run_id: f.run_id, name: f.run_name, problem: "changed_while_archiving", severity: "warning", path: f.source, message: `${f.source} changed while it was archived (a job still writing?); the archive holds its first ${f.size} bytes` });
      }
    }

    if (options.dataset) {
      const sources = datasetSources(runs, candidates);
      if (sources.some(hasMetrics)) {
        const nd = join(tmp, "metrics.ndjson");
        const csv = join(tmp, "metrics.csv");
        const parquet = join(tmp, "metrics.parquet");
        const result = await writeDataset(sources, { ndjson: nd, csv, parquet });
        for (const p of result.problems) await emitProblem(p);
        for (const path of result.parquet ? [nd, csv, parquet] : [nd, csv]) {
          const st = await stat(path);
          const archivePath = path.split("/").pop()!;
          await record(await storeFile(sink, { source: path, readFrom: path, path: archivePath, role: "metrics", size: st.size, mtimeMs: options.now.getTime(), mode: 0o644, declared: false }, false, options.level, false));
        }
        log.info(`dataset: ${result.rows} rows from ${result.runs} runs, metrics ${result.metrics.join(", ") || "none"}`);
      }
    }

    manifest.end();
    sums.end();
    await Promise.all([once(manifest, "close"), once(sums, "close")]);
    for (const name of [SUMS, MANIFEST]) {
      const path = join(tmp, name);
      const st = await stat(path);
      await sink.store(name, { mtimeMs: options.now.getTime(), mode: 0o644, size: st.size }, (dest) => pipeline(createReadStream(path), dest));
    }
    await sink.finish();
    completed = true;
  } finally {
    log.done();
    if (!completed) {
      manifest.destroy();
      sums.destroy();
      await sink.abort().catch(() => {});
    }
    await rm(tmp, { recursive: true, force: true });
  }
  log.info(`wrote ${finalPath}: ${totals.files} files (${totals.unchanged} unchanged), ${totals.bytes} bytes, ${totals.stored_bytes} stored`);

  const summary: Record<string, unknown> = { kind: "archive-summary", v: SCHEMA_VERSION, archive: finalPath, name, format: options.format, ...totals };
  if (previousPath) summary.incremental_from = previousPath;
  if (options.verifyAfter || options.pruneSources) {
    const v = await verifyArchive(finalPath, (r) => {
      if (!r.ok) log.error(`verify: ${r.message ?? r.path}`);
    });
    summary.verified = v.ok;
    if (!v.ok) {
      failed = true;
      if (options.pruneSources) log.error("verification failed: no source deleted");
    } else if (options.pruneSources) {
      summary.pruned = await prune(archived, log);
    }
  }
  await writer.write(summary);
  return failed ? 1 : 0;
}


/**
 * The dataset's sources: each run's metrics.csv files, or its series. With attempts known, one
 * source per attempt: a metrics.csv goes to the attempt that was running when it was last written
 * (attemptAt: by its mtime and the attempts' submission times); an attempt without one uses its
 * record's `report.series` (an earlier attempt's record in the input, parsed by log-parse).
 */
export function datasetSources(runs: RunInput[], files: Candidate[]): MetricsSource[] {
  const byRun = new Map<string, Candidate[]>();
  for (const f of files) {
    if (f.run_id === undefined || !/(^|\/)metrics\.csv$/.test(f.path)) continue;
    const list = byRun.get(f.run_id) ?? [];
    list.push(f);
    byRun.set(f.run_id, list);
  }
  const sources: MetricsSource[] = [];
  for (const run of runs) {
    if (run.files) continue;
    const csv = (byRun.get(run.record.id) ?? []).sort((a, b) => a.readFrom.localeCompare(b.readFrom));
    if (!run.attempts) {
      sources.push({ record: run.record, csvFiles: csv.map((f) => f.readFrom) });
      continue;
    }
    for (const a of run.attempts) {
      const mine = csv.filter((f) => attemptAt(run.attempts!, f.mtimeMs) === a).map((f) => f.readFrom);
      sources.push({ record: run.record, csvFiles: mine, attempt: { attempt: a.attempt, record: a.record } });
    }
  }
  return sources;
}

/** Deletes archived sources that are still exactly what was archived. Directories are kept. */
async function prune(entries: ManifestEntry[], log: Logger): Promise<number> {
  let count = 0;
  for (const e of entries) {
    if (!e.source) continue;
    const st = await stat(e.source).catch(() => undefined);
    if (!st) continue;
    if (st.size !== e.size || Math.floor(st.mtimeMs) !== e.mtime_ms) {
      log.warn(`kept ${e.source}: changed since it was archived`);
      continue;
    }
    await unlink(e.source);
    log.info(`pruned ${e.source}`);
    count += 1;
  }
  return count;
}

async function put(stream: WriteStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, "drain");
}
