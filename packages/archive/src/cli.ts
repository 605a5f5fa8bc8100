import { runCommand } from "@slurmpipe/core/cli";
// The library (zod schemas, execa, ...) is loaded inside `run`, so `--help` and usage errors start fast.
import { archiveOptions, optionsFromArgs } from "./cli-options.ts";

// A stream bug that leaves a promise pending would otherwise end the process with exit code 0
// (empty event loop) and no summary: never let an unfinished archive look successful.
let finished = false;
process.once("beforeExit", () => {
  if (!finished) {
    process.stderr.write("archive: error: stopped before finishing (internal stall); the archive is incomplete\n");
    process.exit(1);
  }
});

await runCommand({
  name: "archive",
  usage: "archive [RUNS.ndjson | RUN_DIR | FILE ...] [options]",
  description:
    "Collects a sweep's results (run directories, Slurm logs, scripts) into a timestamped archive that keeps " +
    "the runs' layout (runs/<name>/...), compresses checkpoints one by one (<file>.gz, so one can be restored alone), " +
    "writes MANIFEST.ndjson, SHA256SUMS and a consolidated metrics dataset (metrics.ndjson, metrics.csv), and prints " +
    "one archive-entry record per file. Declared outputs are checked first. Sources are never modified; " +
    "--prune-sources deletes them only after the new archive verified clean. With --remote HOST the run directories " +
    "are on HOST and the tarball is packed there, in the same layout; --fetch DIR copies it here, verified.",
  options: archiveOptions,
  examples: [
    ["slurm-poll --once --state .slurmpipe | log-parse | archive --name lr-sweep --format tar.gz --out archives", "archive finished runs with their logs, metrics and parsed series"],
    ["archive --check-only runs.ndjson", "only report missing outputs, empty files and truncated checkpoints"],
    ["archive runs.ndjson --incremental --verify-after --prune-sources --out archives", "nightly: store what changed, verify, then free scratch space"],
    ["archive --verify archives/lr-sweep-20250101T000000Z.tar.gz", "re-read everything; exit 1 naming any corrupted file"],
    ["archive --restore archives/lr-sweep-20250101T000000Z --to restored --only 'runs/lr0.1/**/last.ckpt'", "restore one checkpoint"],
  ],
  epilogue:
    "Records on stdout: archive-check (problems found before packing), archive-entry (one per archived file,\n" +
    "as in MANIFEST.ndjson), archive-summary; --verify: archive-verify per file + archive-verify-summary;\n" +
    "--restore: archive-restore per file, all or nothing (a failed restore leaves --to as it was).\n" +
    "Every attempt's logs are archived, in attempt-N/ (earlier attempts from slurm-submit's ledger in\n" +
    "--state, default .slurmpipe when it exists); metrics rows carry the attempt and its params.\n" +
    "Exit 1: a missing/empty declared output (unless --allow-missing), an unreadable file, a link out of\n" +
    "a run directory, a failed verification or restore.",
  run: async (args, ctx) => {
    // core's shell exits the process on EPIPE; here that would leave a half-written archive or
    // restore behind. Drop that handler: RecordSink stops the records and the work finishes.
    for (const l of process.stdout.listeners("error")) process.stdout.off("error", l as (...a: unknown[]) => void);
    try {
      const options = optionsFromArgs(args);
      const { runArchive } = await import("./index.ts");
      return await runArchive(options, ctx);
    } finally {
      finished = true;
    }
  },
});
