import { createLogger, runCommand } from "@slurmpipe/core/cli";
// The library (zod schemas, execa, ...) is loaded inside `run`, so `--help` and usage errors start fast.
import { logParseOptions, optionsFromArgs } from "./cli-options.ts";

await runCommand({
  name: "log-parse",
  usage: "log-parse [options] [LOG_FILE...]  < runs.ndjson > runs+report.ndjson",
  description:
    "Reads the stdout/stderr logs of each run record (sbatch --output/--error patterns resolved with the job id and " +
    "array task) and adds `report`: loss per step (Lightning, HF Trainer, torchtune, nanoGPT, Megatron, DeepSpeed, " +
    "Keras, key=value, metrics.csv), first/last/min loss and trend, NaN, failure causes with evidence (file, line) " +
    "and a suggested action, benign-warning count and sanity flags. Other records pass through unchanged. " +
    "Given LOG_FILE arguments instead, emits one {\"kind\":\"log\",\"path\",\"report\"} record per file.",
  options: logParseOptions,
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
    const options = optionsFromArgs(args);
    // -v: also debug lines (with --state, how many log bytes were read); -q: no info lines.
    const log = args.verbose || args.quiet ? createLogger("log-parse", { quiet: args.quiet, verbose: args.verbose }) : ctx.log;
    const { logParse } = await import("./index.ts");
    return logParse(options, { stdin: ctx.stdin, stdout: ctx.stdout, stderr: ctx.stderr, log, cwd: ctx.cwd });
  },
});
