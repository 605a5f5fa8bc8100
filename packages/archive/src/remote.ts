import { constants } from "node:fs";
import { access, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DirectoryError, type Logger, type RemoteOptions, SCHEMA_VERSION, copyFromRemote, fetchRange, mkdirp, packRemoteTar, removeRemoteStage, sha256, stageRemoteArchive, uploadFile } from "@slurmpipe/core";
import { checkFiles, reportProblems } from "./checks.ts";
import type { Problem, RunInput } from "./collect.ts";
import { formatStamp } from "./layout.ts";
import { MANIFEST, type ManifestEntry, SUMS } from "./manifest.ts";
import { hasMetrics, writeDataset } from "./metrics.ts";
import { archiveName, datasetSources } from "./pack.ts";
import { type RemoteCandidate, collectRemote, outsideRunDirs } from "./remote-collect.ts";
import { baseEntry } from "./store.ts";
import { verifyArchive } from "./verify.ts";

export interface RemotePackOptions {
  remote: RemoteOptions;
  /** The directory on HOST receiving the tarball (relative: to the login directory there). */
  out: string;
  name?: string;
  now: Date;
  format: "tar.gz" | "tar.zst";
  level: number;
  exclude: string[];
  allowMissing: boolean;
  checkOnly: boolean;
  outlierRatio: number;
  dataset: boolean;
  /** A directory on this machine the tarball is copied to, verified. */
  fetch?: string;
  /** --verify-after: verify the fetched copy against its MANIFEST too. */
  verifyAfter: boolean;
}


/**
 * archive --remote: the run directories are on HOST, and so is the archive. One listing there
 * (sizes, mtimes, modes, sha256 of every file, computed on HOST) gives the checks, the manifest and
 * the checksums, as a local archive has them; tar then packs the files on HOST into the same
 * layout (runs/<name>/..., the dataset, SHA256SUMS, MANIFEST.ndjson last), so the tarball is an
 * archive like any other: `archive --verify` and `--restore` read it. The metrics dataset is built
 * here from the runs' metrics.csv files, fetched (they are small), and uploaded into the stage.
 * Every call goes through the one shared ssh connection.
 */
export async function packRemote(runs: RunInput[], options: RemotePackOptions, ctx: { writer: { write(record: unknown): Promise<void> }; log: Logger }): Promise<number> {
  const { writer, log } = ctx;
  const host = options.remote.host;
  let failed = false;
  const outside = outsideRunDirs(runs);
  if (outside.length > 0) log.warn(`--remote archives the run directories only: ${outside.length} log or script path(s) outside them not archived (e.g. ${outside[0]})`);
  const collected = await collectRemote(runs, options.remote, { exclude: options.exclude, hash: !options.checkOnly });
  const problems: Problem[] = [...collected.problems, ...checkFiles(runs, collected.files, { outlierRatio: options.outlierRatio })];
  // Problems found later (while files are read) go the same way, one at a time.
  const emitProblem = async (p: Problem) => {
    if ((await reportProblems([p], Boolean(options.allowMissing), writer, log)).failed) failed = true;
  };
  const reported = await reportProblems(problems, Boolean(options.allowMissing), writer, log);
  if (reported.failed) failed = true;
  if (options.checkOnly) return failed ? 1 : 0;
  if (reported.blocked) {
    log.error("not archiving: declared outputs are missing or empty (use --allow-missing to archive what exists)");
    return 1;
  }

  const name = archiveName(runs, options.name);
  const fileName = `${name}-${formatStamp(options.now)}.${options.format}`;
  const fetchTo = options.fetch === undefined ? undefined : join(options.fetch, fileName);
  if (fetchTo && (await stat(fetchTo).catch(() => undefined))) throw new Error(`${fetchTo} already exists; not overwritten`);
  // Before anything is packed on HOST: a --fetch directory that cannot be written is known now.
  if (options.fetch !== undefined) {
    const dir = options.fetch;
    await mkdirp(dir)
      .then(() => access(dir, constants.W_OK))
      .catch((e: NodeJS.ErrnoException) => {
        throw new DirectoryError(dir, e, "--fetch directory", "the copy is written there: give --fetch a writable directory");
      });
  }
  const links = runs.filter((r) => collected.realDirs.has(r)).map((r) => ({ path: r.prefix, target: collected.realDirs.get(r)! }));
  const staged = await stageRemoteArchive({ out: options.out, name: fileName, links }, options.remote);
  if (staged.kind === "exists") throw new Error(`${host}:${staged.out}/${fileName} already exists; not overwritten`);
  if (staged.kind === "failed") throw new Error(`--out ${staged.message}`);
  const remotePath = `${staged.out}/${fileName}`;
  // Never archive the archives (an --out inside a run directory).
  const files = collected.files.filter((f) => !f.source.startsWith(`${staged.out}/`)).sort((a, b) => a.path.localeCompare(b.path));

  const entries: ManifestEntry[] = files.map((f) => ({ ...baseEntry(f), sha256: f.sha256 }));
  let packed: Awaited<ReturnType<typeof packRemoteTar>>;
  try {
    const extra: string[] = [];
    const put = async (path: string, content: Buffer) => {
      const r = await uploadFile({ dir: staged.stage, candidates: [`${staged.stage}/${path}`], content }, options.remote);
      if (r.status !== "written") throw new Error(r.status === "failed" ? r.message : `${path}: cannot be written in the stage on ${host}`);
      extra.push(path);
    };
    if (options.dataset) {
      for (const e of await remoteDataset(runs, files, options, log, emitProblem)) {
        await put(e.path, e.content);
        entries.push({ kind: "archive-entry", v: SCHEMA_VERSION, path: e.path, size: e.content.length, sha256: sha256(e.content), role: "metrics", mtime_ms: options.now.getTime(), mode: 0o644 });
      }
    }
    await put(SUMS, Buffer.from(entries.map((e) => `${e.sha256}  ${e.path}\n`).join("")));
    await put(MANIFEST, Buffer.from(entries.map((e) => `${JSON.stringify(e)}\n`).join("")));
    log.info(`packing ${files.length} files on ${host} into ${remotePath}`);
    packed = await packRemoteTar({ stage: staged.stage, out: staged.out, name: fileName, format: options.format, level: options.level, paths: [...files.map((f) => f.path), ...extra] }, options.remote);
  } finally {
    await removeRemoteStage(staged.stage, staged.out, options.remote);
  }
  if (packed.kind === "exists") throw new Error(`${host}:${remotePath} already exists; not overwritten`);
  if (packed.kind === "failed") throw new Error(packed.message);
  if (packed.changed) log.warn(`a file changed while tar read it on ${host} (a job still writing?): the archive may not match its manifest; archive --verify says which`);
  for (const e of entries) await writer.write(e);
  const bytes = entries.reduce((n, e) => n + e.size, 0);
  log.info(`wrote ${host}:${remotePath}: ${entries.length} files, ${bytes} bytes, ${packed.size} bytes packed`);
  const summary: Record<string, unknown> = { kind: "archive-summary", v: SCHEMA_VERSION, archive: remotePath, host, name, format: options.format, files: entries.length, stored: entries.length, unchanged: 0, bytes, stored_bytes: bytes, archive_size: packed.size, archive_sha256: packed.sha256 };

  if (fetchTo) {
    const copied = await copyFromRemote(remotePath, fetchTo, packed, options.remote);
    if (copied.kind === "exists") throw new Error(`${fetchTo} already exists; not overwritten (the archive stays on ${host} as ${remotePath})`);
    if (copied.kind === "failed") throw new Error(`${copied.message} (the archive stays on ${host} as ${remotePath})`);
    summary.fetched = fetchTo;
    log.info(`fetched ${fetchTo}: ${copied.size} bytes, sha256 ${copied.sha256}, as on ${host}`);
    if (options.verifyAfter) {
      const v = await verifyArchive(fetchTo, (r) => {
        if (!r.ok) log.error(`verify: ${r.message ?? r.path}`);
      });
      summary.verified = v.ok;
      if (!v.ok) failed = true;
    }
  }
  await writer.write(summary);
  return failed ? 1 : 0;
}

/**
 * The dataset, built here as pack() builds it: each run's metrics.csv files are fetched from HOST
 * (whole, into `<state>/archive/dataset-*`, removed afterwards) and read by writeDataset.
 */
async function remoteDataset(runs: RunInput[], files: RemoteCandidate[], options: RemotePackOptions, log: Logger, emitProblem: (p: Problem) => Promise<void>): Promise<{ path: string; content: Buffer }[]> {
  // In the state directory, beside the ssh control socket (as log-parse keeps its fetched logs), not in /tmp.
  const within = join(options.remote.stateDir, "archive");
  await mkdir(within, { recursive: true, mode: 0o700 });
  const tmp = await mkdtemp(join(within, "dataset-"));
  try {
    const local = [];
    let i = 0;
    for (const f of files) {
      if (f.run_id === undefined || !/(^|\/)metrics\.csv$/.test(f.path)) continue;
      const r = await fetchRange({ path: f.source, offset: 0, back: 0 }, options.remote);
      if (r.kind !== "ok") {
        await emitProblem({ run_id: f.run_id, name: f.run_name, problem: "unreadable", severity: "error", path: f.source, message: `${f.source}: cannot be fetched for the dataset (${r.kind === "failed" ? r.message : r.kind})` });
        continue;
      }
      const readFrom = join(tmp, `${i++}.csv`);
      await writeFile(readFrom, r.bytes, { flag: "wx", mode: 0o600 });
      local.push({ ...f, readFrom });
    }
    const sources = datasetSources(runs, local);
    if (!sources.some(hasMetrics)) return [];
    const paths = { ndjson: join(tmp, "metrics.ndjson"), csv: join(tmp, "metrics.csv"), parquet: join(tmp, "metrics.parquet") };
    const result = await writeDataset(sources, paths);
    for (const p of result.problems) await emitProblem(p);
    log.info(`dataset: ${result.rows} rows from ${result.runs} runs, metrics ${result.metrics.join(", ") || "none"}`);
    const out = [];
    for (const path of result.parquet ? [paths.ndjson, paths.csv, paths.parquet] : [paths.ndjson, paths.csv]) out.push({ path: path.split("/").pop()!, content: await readFile(path) });
    return out;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
