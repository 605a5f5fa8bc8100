import { runCommand } from "@slurmpipe/core/cli";
// The library (zod schemas, execa, ...) is loaded inside `run`, so `--help` and usage errors start fast.
import type { ArchiveArgs } from "./index.ts";

// A stream bug that leaves a promise pending would otherwise end the process with exit code 0
// (empty event loop) and no summary: never let an unfinished archive look successful.
let finished = false;
process.once("beforeExit", () => {
  if (!finished) {
    process.stderr.write("archive: error: stopped before finishing (internal stall); the archive is incomplete\n");
    process.exit(1);
  }
});

await runCommand<ArchiveArgs>({
  name: "archive",
  usage: "archive [RUNS.ndjson | RUN_DIR | FILE ...] [options]",
  description:
    "Collects a sweep's results (run directories, Slurm logs, scripts) into a timestamped archive that keeps " +
    "the runs' layout (runs/<name>/...), compresses checkpoints one by one (<file>.gz, so one can be restored alone), " +
    "writes MANIFEST.ndjson, SHA256SUMS and a consolidated metrics dataset (metrics.ndjson, metrics.csv), and prints " +
    "one archive-entry record per file. Declared outputs are checked first. Sources are never modified; " +
    "--prune-sources deletes them only after the new archive verified clean.",
  options: (y) =>
    y
      // Inputs are positional (record files, run directories, files): strict about options only.
      .strict(false)
      .strictOptions(true)
      .option("out", { type: "string", default: "archives", describe: "directory receiving <name>-<UTC stamp>[.tar.gz|.tar.zst]" })
      .option("name", { type: "string", describe: "archive name (default: the runs' common group, else 'archive')" })
      .option("format", { type: "string", default: "dir", choices: ["dir", "tar.gz", "tar.zst"], describe: "a directory, or one tarball" })
      .option("compress-over", { type: "string", default: "64MiB", describe: "store files over this size gzip-compressed (checkpoints *.ckpt *.pt *.pth *.safetensors *.bin always)" })
      .option("level", { type: "number", describe: "compression level: gzip 0-9 (default 1: weights barely compress, so speed wins; 0 stores checkpoints uncompressed), zstd 1-19 (default 3) for the tarball" })
      .option("now", { type: "string", describe: "archive time (ISO or epoch seconds) for the name; default SOURCE_DATE_EPOCH or the clock" })
      .option("outputs-only", { type: "boolean", default: false, describe: "archive only declared outputs, logs and the script, not whole run directories" })
      .option("exclude", { type: "string", array: true, default: [], describe: "glob relative to each run directory to leave out (repeatable), e.g. 'wandb/**'" })
      .option("log-base", { type: "string", describe: "directory relative log patterns are resolved against (default: the current directory)" })
      .option("allow-missing", { group: "Checks:", type: "boolean", default: false, describe: "archive what exists even when declared outputs are missing or empty" })
      .option("check-only", { group: "Checks:", type: "boolean", default: false, describe: "only run the checks (missing outputs, empty files, size outliers) and print them" })
      .option("incremental", { group: "Incremental and pruning:", type: "boolean", default: false, describe: "do not store files unchanged since the newest archive of the same name in --out" })
      .option("incremental-from", { group: "Incremental and pruning:", type: "string", describe: "like --incremental, against this earlier archive (in --out)" })
      .option("rehash", { group: "Incremental and pruning:", type: "boolean", default: false, describe: "incremental: hash files even when size and mtime match" })
      .option("verify-after", { group: "Incremental and pruning:", type: "boolean", default: false, describe: "re-read and verify the new archive before exiting" })
      .option("prune-sources", { group: "Incremental and pruning:", type: "boolean", default: false, describe: "after a clean verification, delete the archived source files (directories are kept)" })
      .option("outlier-ratio", { group: "Checks:", type: "number", default: 0.5, describe: "flag a checkpoint smaller than this fraction of the median of the same file in other runs" })
      .option("dataset", { type: "boolean", default: true, describe: "write metrics.ndjson and metrics.csv (--no-dataset to skip)" })
      .option("verify", { group: "Verify and restore:", type: "string", describe: "verify ARCHIVE (directory or tarball) against its MANIFEST; exit 1 naming any bad file" })
      .option("restore", { group: "Verify and restore:", type: "string", describe: "restore ARCHIVE (needs --to)" })
      .option("to", { group: "Verify and restore:", type: "string", describe: "--restore: destination directory" })
      .option("only", { group: "Verify and restore:", type: "string", array: true, default: [], describe: "--restore: only archive paths matching this glob (repeatable)" })
      .option("force", { group: "Verify and restore:", type: "boolean", default: false, describe: "--restore: replace existing regular files (never links or directories)" })
      .option("strict", { type: "boolean", default: false, describe: "stop at the first bad input line" }) as never,
  examples: [
    ["slurm-poll state/ | log-parse | archive --name lr-sweep --format tar.gz --out /project/archives", "archive finished runs with their logs, metrics and parsed series"],
    ["archive --check-only runs.ndjson", "only report missing outputs, empty files and truncated checkpoints"],
    ["archive runs.ndjson --incremental --verify-after --prune-sources --out /project/archives", "nightly: store what changed, verify, then free scratch space"],
    ["archive --verify /project/archives/lr-sweep-20250101T000000Z.tar.gz", "re-read everything; exit 1 naming any corrupted file"],
    ["archive --restore archives/lr-sweep-20250101T000000Z --to restored --only 'runs/lr0.1/**/model.ckpt'", "restore one checkpoint"],
  ],
  epilogue:
    "Records on stdout: archive-check (problems found before packing), archive-entry (one per archived file,\n" +
    "as in MANIFEST.ndjson), archive-summary; --verify: archive-verify per file + archive-verify-summary;\n" +
    "--restore: archive-restore per file, all or nothing (a failed restore leaves --to as it was).\n" +
    "Exit 1: a missing/empty declared output (unless --allow-missing), an unreadable file, a link out of\n" +
    "a run directory, a failed verification or restore.",
  run: async (args, ctx) => {
    // core's shell exits the process on EPIPE; here that would leave a half-written archive or
    // restore behind. Drop that handler: RecordSink stops the records and the work finishes.
    for (const l of process.stdout.listeners("error")) process.stdout.off("error", l as (...a: unknown[]) => void);
    try {
      const { runArchive } = await import("./index.ts");
      return await runArchive({ ...args, inputs: ((args as unknown as { _: unknown[] })._ ?? []).map(String) }, ctx);
    } finally {
      finished = true;
    }
  },
});
