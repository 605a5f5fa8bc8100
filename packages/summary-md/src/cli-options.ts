import { type Argv, withCommonOptions } from "@slurmpipe/core/cli";
// Types only: the library is loaded inside `run`, so `--help` and usage errors start fast.
import type { SummaryOptions } from "./index.ts";
import type { LogMode } from "./svg/plot.ts";

/**
 * The default command declares the positional files, so yargs' strict mode accepts them. yargs
 * parses them into `files`, but its types keep the outer parser's type (a command's builder types
 * only its handler), so the type says here what the parse holds.
 */
function withFiles<T>(y: Argv<T>): Argv<T & { files?: string[] }> {
  const o = y.command("$0 [files..]", false, (c) => c.positional("files", { type: "string", array: true, describe: "NDJSON inputs (default: stdin; - is stdin)" }));
  return o as unknown as Argv<T & { files?: string[] }>;
}

/** summary-md's options (the common ones from core's group). */
export function summaryOptions(y: Argv) {
  const o = withFiles(y)
    .option("output", { alias: "o", type: "string", describe: "write the markdown to FILE (atomically) instead of stdout" })
    .option("expected", { type: "string", describe: "sweep-gen output (NDJSON): runs missing from the input are listed MISSING with the command to submit them" })
    .option("update", { type: "string", describe: "rewrite the 'Run Name | Status | Job ID | Started | Completed | Notes' table(s) of this markdown file in place, or the runs: list of a .yaml/.yml experiment summary" })
    .option("sample", { type: "boolean", default: false, describe: "sample-run report for the first run: verdict READY / NOT READY and a full-run recommendation" })
    .option("full-steps", { type: "number", describe: "--sample: steps of the full run (default: params.max_steps of the --expected run)" })
    .option("margin", { type: "number", describe: "--sample: safety factor on the extrapolated wall time (default 1.2)" })
    // --no-plots makes it false; the identity coerce only says so to the type (yargs keeps the value).
    .option("plots", { type: "string", coerce: (v: string | false) => v, describe: "directory for SVG loss plots (default: <dir of -o>/plots, else ./plots; --update: none unless given); --no-plots for none" })
    .option("color-by", { type: "string", describe: "also draw each group's curves on one chart coloured by this param (e.g. lr)" })
    .option("log-y", { choices: ["auto", "on", "off"] as const, default: "auto" as LogMode, describe: "log-scale loss axis (auto: when values span two decades)" })
    .option("now", { type: "string", describe: "report time (ISO 8601 or Unix seconds) for reproducible output; default SOURCE_DATE_EPOCH, else the clock" })
    .option("title", { type: "string", describe: "report title (default 'Sweep status')" })
    .option("profile", { type: "string", describe: "cluster profile to put in the slurm-render step of rerun commands" });
  return withCommonOptions(o, ["strict", "quiet"]);
}

/** What yargs hands `run` (see summaryOptions). */
export type SummaryCliArgs = ReturnType<typeof summaryOptions> extends Argv<infer T> ? T : never;

/** The report's options from the parsed command line, and whether info messages are dropped; the library checks the values. */
export function optionsFromArgs(args: SummaryCliArgs): { options: SummaryOptions; quiet: boolean } {
  const options: SummaryOptions = {
    inputs: args.files ?? [],
    sample: args.sample,
    strict: args.strict,
    logY: args["log-y"],
    ...(args.output !== undefined ? { output: args.output } : {}),
    ...(args.expected !== undefined ? { expected: args.expected } : {}),
    ...(args.update !== undefined ? { update: args.update } : {}),
    ...(args["full-steps"] !== undefined ? { fullSteps: args["full-steps"] } : {}),
    ...(args.margin !== undefined ? { margin: args.margin } : {}),
    ...(args.plots === false ? { plots: false as const } : typeof args.plots === "string" ? { plots: args.plots } : {}),
    ...(args["color-by"] !== undefined ? { colorBy: args["color-by"] } : {}),
    ...(args.now !== undefined ? { now: args.now } : {}),
    ...(args.title !== undefined ? { title: args.title } : {}),
    ...(args.profile !== undefined ? { profile: args.profile } : {}),
  };
  return { options, quiet: args.quiet };
}
