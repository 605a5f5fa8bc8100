import { type Argv, DEFAULT_STATE_DIR, remoteFromArgs, withCommonOptions, withPositionals } from "@slurmpipe/core/cli";
// Types only: the library is loaded inside `run`, so `--help` and usage errors start fast.
import type { ArchiveArgs } from "./index.ts";

/** archive's options (the common ones from core's group). */
export function archiveOptions(y: Argv) {
  const o = y
    // Inputs are positional (record files, run directories, files): strict about options only.
    .strict(false)
    .strictOptions(true)
    .option("out", { type: "string", default: "archives", describe: "directory receiving <name>-<UTC stamp>[.tar.gz|.tar.zst] (with --remote: on HOST, relative to the login directory there)" })
    .option("name", { type: "string", describe: "archive name (default: the runs' common group, else 'archive')" })
    .option("format", { type: "string", choices: ["dir", "tar.gz", "tar.zst"], describe: "a directory, or one tarball (default dir; with --remote tar.gz)" })
    .option("compress-over", { type: "string", describe: "store files over this size gzip-compressed (checkpoints *.ckpt *.pt *.pth *.safetensors *.bin always); default 64MiB" })
    .option("level", { type: "number", describe: "compression level: gzip 0-9 (default 1: weights barely compress, so speed wins; 0 stores checkpoints uncompressed), zstd 1-19 (default 3) for the tarball" })
    .option("now", { type: "string", describe: "archive time (ISO or epoch seconds) for the name; default SOURCE_DATE_EPOCH or the clock" })
    .option("outputs-only", { type: "boolean", default: false, describe: "archive only declared outputs, logs and the script, not whole run directories" })
    .option("exclude", { type: "string", array: true, default: [] as string[], describe: "glob relative to each run directory to leave out (repeatable), e.g. 'wandb/**'" })
    .option("log-base", { type: "string", describe: "directory relative log patterns are resolved against (default: the current directory)" })
    .option("allow-missing", { group: "Checks:", type: "boolean", default: false, describe: "archive what exists even when declared outputs are missing or empty" })
    .option("check-only", { group: "Checks:", type: "boolean", default: false, describe: "only run the checks (missing outputs, empty files, size outliers) and print them" })
    .option("incremental", { group: "Incremental and pruning:", type: "boolean", default: false, describe: "do not store files unchanged since the newest archive of the same name in --out" })
    .option("incremental-from", { group: "Incremental and pruning:", type: "string", describe: "like --incremental, against this earlier archive (in --out)" })
    .option("rehash", { group: "Incremental and pruning:", type: "boolean", default: false, describe: "incremental: hash files even when size and mtime match" })
    .option("verify-after", { group: "Incremental and pruning:", type: "boolean", default: false, describe: "re-read and verify the new archive before exiting (with --remote: the copy --fetch made)" })
    .option("prune-sources", { group: "Incremental and pruning:", type: "boolean", default: false, describe: "after a clean verification, delete the archived source files (directories are kept)" })
    .option("outlier-ratio", { group: "Checks:", type: "number", default: 0.5, describe: "flag a checkpoint smaller than this fraction of the median of the same file in other runs" })
    .option("dataset", { type: "boolean", default: true, describe: "write metrics.ndjson and metrics.csv (--no-dataset to skip)" })
    .option("verify", { group: "Verify and restore:", type: "string", describe: "verify ARCHIVE (directory or tarball) against its MANIFEST; exit 1 naming any bad file" })
    .option("restore", { group: "Verify and restore:", type: "string", describe: "restore ARCHIVE (needs --to)" })
    .option("to", { group: "Verify and restore:", type: "string", describe: "--restore: destination directory" })
    .option("only", { group: "Verify and restore:", type: "string", array: true, default: [] as string[], describe: "--restore: only archive paths matching this glob (repeatable)" })
    .option("force", { group: "Verify and restore:", type: "boolean", default: false, describe: "--restore: replace existing regular files (never links or directories)" });
  const r = withCommonOptions(o, ["remote", "remote-batch-mode"])
    .option("remote", {
      group: "Remote:",
      type: "string",
      describe: `the run directories are on HOST: tar packs them there into --out on HOST (tar.gz by default, or tar.zst), over one multiplexed ssh connection (control socket in --state, default ${DEFAULT_STATE_DIR}): an ~/.ssh/config alias or user@host[:port] (default $SLURMPIPE_REMOTE). The dataset is built here from the fetched metrics.csv files; links on HOST are not followed; logs and scripts outside the run directories are not archived; --verify, --restore, --incremental, --incremental-from, --rehash, --prune-sources, --outputs-only, --log-base, --compress-over and --format dir are refused (usage error)`,
    })
    .option("fetch", { group: "Remote:", type: "string", describe: "with --remote: copy the archive made on HOST into DIR on this machine, verified (size and sha256 on both ends; --verify-after also checks it against its MANIFEST); never over an existing file" });
  return withCommonOptions(withPositionals(r), ["strict", "state"]);
}

/** What yargs hands `run` (see archiveOptions). */
export type ArchiveCliArgs = ReturnType<typeof archiveOptions> extends Argv<infer T> ? T : never;

/** The library's options from the parsed command line: the positional arguments are the inputs. */
export function optionsFromArgs(args: ArchiveCliArgs): ArchiveArgs {
  return {
    inputs: args._.map(String),
    out: args.out,
    name: args.name,
    format: args.format,
    compressOver: args["compress-over"],
    level: args.level,
    now: args.now,
    outputsOnly: args["outputs-only"],
    exclude: args.exclude,
    logBase: args["log-base"],
    allowMissing: args["allow-missing"],
    checkOnly: args["check-only"],
    incremental: args.incremental,
    incrementalFrom: args["incremental-from"],
    rehash: args.rehash,
    pruneSources: args["prune-sources"],
    verifyAfter: args["verify-after"],
    outlierRatio: args["outlier-ratio"],
    dataset: args.dataset,
    verify: args.verify,
    restore: args.restore,
    to: args.to,
    only: args.only,
    force: args.force,
    strict: args.strict,
    // The default state directory is read when it exists: earlier attempts' logs come from its ledger.
    state: args.state ?? DEFAULT_STATE_DIR,
    stateGiven: args.state !== undefined,
    ...remoteOf(args),
  };
}

function remoteOf(args: ArchiveCliArgs): Pick<ArchiveArgs, "remote" | "fetch"> {
  const remote = remoteFromArgs(args, args.state ?? DEFAULT_STATE_DIR);
  return { ...(remote ? { remote } : {}), ...(args.fetch !== undefined ? { fetch: args.fetch } : {}) };
}
