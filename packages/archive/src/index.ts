// @slurmpipe/archive: collect, checksum and pack a sweep's results; verify and restore archives.
import { resolve } from "node:path";
import { type Logger, NdjsonWriter, PipeClosedError, UsageError, parseMemory, resolveNow } from "@slurmpipe/core";
import { readLedgerAttempts, stateDirectory } from "./attempts.ts";
import { readRuns } from "./inputs.ts";
import { type PackOptions, pack } from "./pack.ts";
import { packRemote } from "./remote.ts";
import { restoreArchive } from "./restore.ts";
import type { ArchiveFormat } from "./sinks.ts";
import { verifyArchive } from "./verify.ts";
import { zstdAvailable } from "./zstd.ts";

export { attemptAt, readLedgerAttempts, runAttempts, type Attempt } from "./attempts.ts";
export { checkFiles, median } from "./checks.ts";
export { assignPrefixes, collectFiles, type Candidate, type Problem, type RunInput } from "./collect.ts";
export { csvField, csvLine } from "./csv.ts";
export { archiveNamePattern, loadPrevious, newestArchive } from "./incremental.ts";
export { destinationFor, formatStamp, inside, safeArchivePath, safeComponent } from "./layout.ts";
export { expandLogPattern } from "./logs.ts";
export { MANIFEST, ManifestEntry, SUMS, parseManifest } from "./manifest.ts";
export { flattenParams, writeDataset } from "./metrics.ts";
export { archiveName, pack, type PackOptions } from "./pack.ts";
export { readRuns } from "./inputs.ts";
export { packRemote, type RemotePackOptions } from "./remote.ts";
export { restoreArchive, type RestoreOptions, type RestoreResult } from "./restore.ts";
export { classify, shouldCompress } from "./roles.ts";
export { openSink, type ArchiveFormat } from "./sinks.ts";
export { measure } from "./streams.ts";
export { scanTar } from "./reader.ts";
export { verifyArchive, type VerifyResult, type VerifySummary } from "./verify.ts";

export interface ArchiveArgs {
  inputs: string[];
  out: string;
  name?: string;
  /** Default: dir, or tar.gz with `remote`. */
  format?: string;
  /** Default 64MiB; no per-file compression with `remote`. */
  compressOver?: string;
  level?: number;
  now?: string;
  outputsOnly: boolean;
  exclude: string[];
  logBase?: string;
  allowMissing: boolean;
  checkOnly: boolean;
  incremental: boolean;
  incrementalFrom?: string;
  rehash: boolean;
  pruneSources: boolean;
  verifyAfter: boolean;
  outlierRatio: number;
  dataset: boolean;
  verify?: string;
  restore?: string;
  to?: string;
  only: string[];
  force: boolean;
  strict: boolean;
  /** slurm-submit's state directory, whose ledger has every attempt of each run. */
  state?: string;
  /** `state` was given (it must then exist); the default one is read only when it exists. */
  stateGiven?: boolean;
  /** --remote: the run directories and the archive are on this host (control socket in `stateDir`). */
  remote?: { host: string; stateDir: string; batchMode: boolean };
  /** --remote: copy the archive into this directory here, verified. */
  fetch?: string;
}

/** What a local archive does that --remote does not: each is a usage error naming the option. */
function refuseRemote(args: ArchiveArgs): void {
  const refused: [boolean, string][] = [
    [args.verify !== undefined, "--verify reads an archive on this machine: --fetch DIR copies it here (with --verify-after, verified against its MANIFEST)"],
    [args.restore !== undefined, "--restore reads an archive on this machine: --fetch DIR copies it here, then archive --restore it"],
    [args.incremental || args.incrementalFrom !== undefined || args.rehash, "--incremental, --incremental-from and --rehash need the earlier archive on this machine; not with --remote"],
    [args.pruneSources, "--prune-sources deletes sources only after a local verification; not with --remote"],
    [args.outputsOnly, "--outputs-only: with --remote the whole run directories are archived (logs and scripts outside them are not)"],
    [args.logBase !== undefined, "--log-base: with --remote only the run directories are archived, logs outside them are not read"],
    [args.compressOver !== undefined, "--compress-over: with --remote files are not compressed one by one (the tarball is compressed as a whole on HOST)"],
    [args.format === "dir", "--format dir: with --remote the archive is one tarball on HOST: --format tar.gz (the default) or tar.zst"],
    [args.level === 0, "--level 0: with --remote the level is the tarball's (gzip 1-9, zstd 1-19)"],
    [args.verifyAfter && args.fetch === undefined, "--verify-after with --remote verifies the fetched copy: give --fetch DIR"],
  ];
  for (const [bad, message] of refused) if (bad) throw new UsageError(`--remote: ${message}`);
  // Directories and files named on the command line are this machine's: with --remote, records name HOST's.
  const local = args.inputs.filter((a) => a !== "-" && !/\.(ndjson|jsonl|json)$/i.test(a));
  if (local.length > 0) throw new UsageError(`--remote: ${local[0]} is a path on this machine; with --remote the run records (stdin or record files) name the run directories on HOST`);
}

export interface ArchiveContext {
  stdin: AsyncIterable<Buffer | string> & { isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  log: Logger;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/**
 * stdout is a report, not the product: when its reader goes away (`archive | head -1`) the archive,
 * verification or restore still runs to the end (a half-written archive or restore helps nobody);
 * only the records stop.
 */
export class RecordSink {
  constructor(private readonly writer: NdjsonWriter) {}
  async write(record: unknown): Promise<void> {
    if (this.writer.isClosed) return;
    try {
      await this.writer.write(record);
    } catch (e) {
      if (!(e instanceof PipeClosedError)) throw e;
    }
  }
}

/** "64M", "64MiB", "1.5G", "1048576" (bytes). */
export function parseSize(text: string, option: string): number {
  const t = String(text).trim().replace(/i?B$/i, "");
  const bytes = /^\d+$/.test(t) ? Number(t) : parseMemory(t, 1);
  if (bytes === undefined) throw new UsageError(`--${option}: expected a size like 64M, 1G or 1048576, got ${JSON.stringify(text)}`);
  return bytes;
}

/** The whole command, in-process: pack (default), --check-only, --verify or --restore. */
export async function runArchive(args: ArchiveArgs, ctx: ArchiveContext): Promise<number> {
  const writer = new RecordSink(new NdjsonWriter(ctx.stdout));
  if (args.remote) refuseRemote(args);
  else if (args.fetch !== undefined) throw new UsageError("--fetch copies an archive made on HOST: it goes with --remote HOST");
  const modes = [args.verify !== undefined, args.restore !== undefined, args.checkOnly].filter(Boolean).length;
  if (modes > 1) throw new UsageError("--verify, --restore and --check-only are separate modes: use one");

  if (args.verify !== undefined) {
    if (args.inputs.length > 0) throw new UsageError("--verify takes the archive as its value, no other arguments");
    let n = 0;
    const summary = await verifyArchive(resolve(ctx.cwd, args.verify), async (r) => {
      ctx.log.progress(`verified ${++n} files`);
      if (!r.ok) ctx.log.error(`${r.path}: ${r.problem}: ${r.message ?? ""}`);
      await writer.write(r);
    });
    await writer.write(summary);
    if (summary.ok) ctx.log.info(`${args.verify}: ${summary.files} files ok`);
    else ctx.log.error(`${args.verify}: ${summary.failed} problem(s) in ${summary.files} files`);
    return summary.ok ? 0 : 1;
  }

  if (args.restore !== undefined) {
    if (!args.to) throw new UsageError("--restore needs --to DIR");
    if (args.inputs.length > 0) throw new UsageError("--restore takes the archive as its value, no other arguments");
    let n = 0;
    const tally = await restoreArchive(resolve(ctx.cwd, args.restore), { to: resolve(ctx.cwd, args.to), only: args.only, force: args.force }, async (r) => {
      ctx.log.progress(`restored ${++n} files`);
      // The files that were fine are each a record; stderr names only what failed.
      if (!r.ok && r.problem !== "not_restored") ctx.log.error(`${r.path}: ${r.problem}: ${r.message ?? ""}`);
      await writer.write(r);
    });
    if (tally.ok) ctx.log.info(`restored ${tally.restored} file(s) to ${args.to}`);
    else ctx.log.error(`nothing restored from ${args.restore}: ${args.to} left as it was`);
    return tally.ok ? 0 : 1;
  }

  if (args.only.length > 0 || args.to !== undefined || args.force) throw new UsageError("--to, --only and --force go with --restore");
  const formatText = args.format ?? (args.remote ? "tar.gz" : "dir");
  if (!["dir", "tar.gz", "tar.zst"].includes(formatText)) throw new UsageError(`--format: expected dir, tar.gz or tar.zst, got ${JSON.stringify(args.format)}`);
  const format = formatText as ArchiveFormat;
  if (format === "tar.zst" && !args.remote && !(await zstdAvailable())) throw new UsageError("--format tar.zst needs Node >= 22.15 or the zstd program on PATH");
  if (args.incremental && args.incrementalFrom) throw new UsageError("--incremental picks the newest archive itself; do not also give --incremental-from");
  if (!(args.outlierRatio > 0 && args.outlierRatio < 1)) throw new UsageError("--outlier-ratio: expected a fraction between 0 and 1");
  // gzip level 1: on float weights levels 1-6 give the same ratio (0.93 measured) and 1 is the fastest.
  const level = args.level ?? (format === "tar.zst" ? 3 : 1);
  if (!Number.isInteger(level) || level < 0 || level > (format === "tar.zst" ? 19 : 9)) throw new UsageError(`--level: out of range for ${format}`);
  if (args.inputs.length === 0 && ctx.stdin.isTTY) throw new UsageError("no input: pipe run records in, or give record files or directories");

  const stateDir = args.state === undefined ? undefined : await stateDirectory(resolve(ctx.cwd, args.state), args.stateGiven ?? true, args.state);
  const ledger = stateDir ? (ids: ReadonlySet<string>) => readLedgerAttempts(stateDir, ids, (m) => ctx.log.warn(m)) : undefined;
  const { runs, badLines } = await readRuns(args.inputs, { stdin: ctx.stdin, stderr: ctx.stderr, strict: args.strict, cwd: ctx.cwd, ...(ledger ? { ledger } : {}) });
  if (runs.length === 0) {
    ctx.log.error("no runs to archive");
    return 1;
  }
  if (args.remote) {
    const remote = { host: args.remote.host, stateDir: resolve(ctx.cwd, args.remote.stateDir), batchMode: args.remote.batchMode, ...(ctx.env.SLURMPIPE_SSH ? { sshBin: ctx.env.SLURMPIPE_SSH } : {}) };
    const code = await packRemote(runs, { remote, out: args.out, now: resolveNow(args.now, ctx.env), format: format as "tar.gz" | "tar.zst", level, exclude: args.exclude, allowMissing: args.allowMissing, checkOnly: args.checkOnly, outlierRatio: args.outlierRatio, dataset: args.dataset, verifyAfter: args.verifyAfter, ...(args.name ? { name: args.name } : {}), ...(args.fetch !== undefined ? { fetch: resolve(ctx.cwd, args.fetch) } : {}) }, { writer, log: ctx.log });
    return badLines > 0 ? Math.max(code, 1) : code;
  }
  const options: PackOptions = {
    out: resolve(ctx.cwd, args.out),
    now: resolveNow(args.now, ctx.env),
    format,
    compressOver: parseSize(args.compressOver ?? "64MiB", "compress-over"),
    level,
    outputsOnly: args.outputsOnly,
    exclude: args.exclude,
    logBase: resolve(ctx.cwd, args.logBase ?? "."),
    allowMissing: args.allowMissing,
    checkOnly: args.checkOnly,
    incremental: args.incremental,
    rehash: args.rehash,
    pruneSources: args.pruneSources,
    verifyAfter: args.verifyAfter,
    outlierRatio: args.outlierRatio,
    dataset: args.dataset,
    ...(args.name ? { name: args.name } : {}),
    ...(args.incrementalFrom ? { incrementalFrom: args.incrementalFrom } : {}),
  };
  const code = await pack(runs, options, { writer, log: ctx.log });
  return badLines > 0 ? Math.max(code, 1) : code;
}
