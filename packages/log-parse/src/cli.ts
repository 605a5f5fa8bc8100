import { runCommand } from "@slurmpipe/core/cli";
// The library (zod schemas, execa, ...) is loaded inside `run`, so `--help` and usage errors start fast.
import type { LogParseArgs } from "./index.ts";

await runCommand<LogParseArgs & { files?: string[] }>({
  name: "log-parse",
  usage: "log-parse [options] [LOG_FILE...]  < runs.ndjson > runs+report.ndjson",
  description:
    "Reads the stdout/stderr logs of each run record (sbatch --output/--error patterns resolved with the job id and " +
    "array task) and adds `report`: loss per step (Lightning, HF Trainer, torchtune, nanoGPT, Megatron, DeepSpeed, " +
    "Keras, key=value, metrics.csv), first/last/min loss and trend, NaN, failure causes with evidence (file, line) " +
    "and a suggested action, benign-warning count and sanity flags. Other records pass through unchanged. " +
    "Given LOG_FILE arguments instead, emits one {\"kind\":\"log\",\"path\",\"report\"} record per file.",
  options: (y) =>
    y
      // Log files are positional: strict about options only.
      .strict(false)
      .strictOptions(true)
      .option("files", { type: "string", array: true, describe: "log files to parse (same as positional arguments)" })
      .option("metric", { type: "string", array: true, describe: "extra metric: name=<regex> with one capture group, or named groups (?<value>) and (?<step>); repeatable" })
      .option("max-points", { type: "number", describe: "points kept per metric in report.series (first/last/min and NaN points always kept)", default: 500 })
      .option("base-dir", { type: "string", describe: "directory relative log patterns are resolved against (the jobs' working directory)", default: "." })
      .option("user", { type: "string", describe: "user name for %u in log patterns (default: $USER)" })
      .option("csv", { type: "boolean", describe: "also read a Lightning metrics.csv under the run's dir (--no-csv to skip)", default: true })
      .option("min-step-seconds", { type: "number", describe: "a finished run faster than this per step is flagged CPU_ONLY_SUSPECTED", default: 0.1 })
      .option("max-line-bytes", { type: "number", describe: "longer physical lines (e.g. \\r progress bars) are scanned in pieces of at most this many bytes (1024 to 268435456)", default: 1048576 })
      .option("strict", { type: "boolean", describe: "stop at the first bad input record", default: false }) as never,
  examples: [
    ["slurm-poll < submitted.ndjson | log-parse | summary-md > STATUS.md", "parse the logs of every polled run"],
    ["log-parse logs/12345.out logs/12345.err", "parse plain files, one report per file"],
    ["log-parse --metric 'val_acc=val acc (\\S+)' < runs.ndjson", "an extra metric from a custom format"],
    ["log-parse < runs.ndjson | jq -c 'select(.report.ok == false) | {name, failures: [.report.failures[].class]}'", "which runs failed and why"],
  ],
  epilogue:
    "Loss trend: medians of the first and last 10% of the loss values (at least 3 each):\n" +
    "  >= 5% lower DECREASING; >= 10% higher (or the last 3 over 10x the start) DIVERGING;\n" +
    "  else FLAT; any NaN/inf NAN; fewer than 2 values NO_DATA.\n" +
    "A run's missing log is reported (exists: false), not an error; a missing LOG_FILE is (exit 1).\n" +
    "Only regular files are read: a FIFO, device, socket, directory or a symlink out of the log's\n" +
    "directory is not opened, and its record fails naming the path (exit 1).",
  run: async (args, ctx) => {
    const a = args as LogParseArgs & { _?: (string | number)[]; files?: string[]; "max-points"?: number };
    const positional = (a._ ?? []).map(String);
    const { logParse } = await import("./index.ts");
    return logParse(
      {
        ...a,
        files: [...positional, ...(a.files ?? [])],
      },
      { stdin: ctx.stdin, stdout: ctx.stdout, stderr: ctx.stderr, log: ctx.log, cwd: ctx.cwd },
    );
  },
});
