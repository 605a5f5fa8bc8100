import { type Argv, DEFAULT_STATE_DIR, remoteFromArgs, withCommonOptions, withPositionals } from "@slurmpipe/core/cli";
// Types only: the library is loaded inside `run`, so `--help` and usage errors start fast.
import type { LogParseArgs } from "./index.ts";

/** log-parse's options (the common ones from core's group). */
export function logParseOptions(y: Argv) {
  const o = y
    // Log files are positional: strict about options only.
    .strict(false)
    .strictOptions(true)
    .option("files", { type: "string", array: true, describe: "log files to parse (same as positional arguments)" })
    .option("metric", { type: "string", array: true, describe: "extra metric: name=<regex> with one capture group, or named groups (?<value>) and (?<step>); repeatable" })
    .option("max-points", { type: "number", describe: "points kept per metric in report.series (first/last/min and NaN points always kept)", default: 500 })
    .option("base-dir", { type: "string", describe: "directory relative log patterns are resolved against (the jobs' working directory)", default: "." })
    .option("user", { type: "string", describe: "user name for %u in log patterns (default: $USER)" })
    .option("csv", { type: "boolean", describe: "also read a Lightning metrics.csv, an HF trainer_state.json and MLflow mlruns/ under the run's dir (--no-csv to skip)", default: true })
    .option("state", { type: "string", describe: "keep reports in DIR/log-parse/ and reuse a record's report while none of its inputs (record fields, options, log and metric files) changed; of a log that grew, read only the bytes appended since the last run (-v says how many)" })
    .option("jobs", { alias: "j", type: "number", describe: "parse the logs of N records at once, on N worker threads (output order unchanged; with --remote, 1)", default: 1 })
    .option("min-step-seconds", { type: "number", describe: "a finished run faster than this per step is flagged CPU_ONLY_SUSPECTED", default: 0.1 })
    .option("max-line-bytes", { type: "number", describe: "longer physical lines (e.g. \\r progress bars) are scanned in pieces of at most this many bytes (1024 to 268435456)", default: 1048576 });
  const r = withCommonOptions(o, ["remote", "remote-batch-mode"]).option("remote", {
    group: "Remote:",
    type: "string",
    describe: `read the logs on HOST over one multiplexed ssh connection, fetching only the bytes appended since the last run with --state (control socket in --state, default ${DEFAULT_STATE_DIR}): an ~/.ssh/config alias or user@host[:port] (default $SLURMPIPE_REMOTE)`,
  });
  return withCommonOptions(withPositionals(r), ["strict", "quiet", "verbose"]);
}

/** What yargs hands `run` (see logParseOptions). */
export type LogParseCliArgs = ReturnType<typeof logParseOptions> extends Argv<infer T> ? T : never;

/**
 * The library's options from the parsed command line: the log files are the positional arguments,
 * then those of --files. The values are checked by the library (reportOptions), once.
 */
export function optionsFromArgs(args: LogParseCliArgs): LogParseArgs {
  return {
    files: [...args._.map(String), ...(args.files ?? [])],
    metric: args.metric,
    maxPoints: args["max-points"],
    baseDir: args["base-dir"],
    user: args.user,
    csv: args.csv,
    minStepSeconds: args["min-step-seconds"],
    jobs: args.jobs,
    maxLineBytes: args["max-line-bytes"],
    strict: args.strict,
    ...(args.state !== undefined ? { state: args.state } : {}),
    ...remoteOf(args),
  };
}

function remoteOf(args: LogParseCliArgs): Pick<LogParseArgs, "remote"> {
  const remote = remoteFromArgs(args, args.state ?? DEFAULT_STATE_DIR);
  return remote ? { remote } : {};
}
