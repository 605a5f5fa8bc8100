import { runCommand } from "@slurmpipe/core/cli";
// The library (zod schemas, execa, ...) is loaded inside `run`, so `--help` and usage errors start fast.
import type { LogMode } from "./svg/plot.ts";

interface Args {
  files: string[];
  output?: string;
  expected?: string;
  update?: string;
  sample: boolean;
  "full-steps"?: number;
  margin?: number;
  plots?: string | boolean;
  "color-by"?: string;
  "log-y": LogMode;
  now?: string;
  title?: string;
  profile?: string;
  strict: boolean;
  quiet: boolean;
}

await runCommand<Args>({
  name: "summary-md",
  usage: "summary-md [files..] [options]",
  description:
    "Turns run records (sweep-gen | slurm-submit | slurm-poll | log-parse output) into a markdown status report: counts, " +
    "a table per group with completion %, failures with their evidence, efficiency (MaxRSS vs requested memory, elapsed vs " +
    "time limit), the exact commands to rerun what failed or is missing, and SVG loss plots. --update rewrites the status " +
    "table of an existing experiment_summary.md in place; --sample writes the sample-run report with a READY / NOT READY verdict.",
  options: (y) =>
    y
      // A default command declares the positional files, so yargs' strict mode accepts them.
      .command("$0 [files..]", false as unknown as string, (c) =>
        c.positional("files", { type: "string", array: true, describe: "NDJSON inputs (default: stdin; - is stdin)" }),
      )
      .option("output", { alias: "o", type: "string", describe: "write the markdown to FILE (atomically) instead of stdout" })
      .option("expected", { type: "string", describe: "sweep-gen output (NDJSON): runs missing from the input are listed MISSING with the command to submit them" })
      .option("update", { type: "string", describe: "rewrite the 'Run Name | Status | Job ID | Started | Completed | Notes' table(s) of this markdown file in place" })
      .option("sample", { type: "boolean", default: false, describe: "sample-run report for the first run: verdict READY / NOT READY and a full-run recommendation" })
      .option("full-steps", { type: "number", describe: "--sample: steps of the full run (default: params.max_steps of the --expected run)" })
      .option("margin", { type: "number", describe: "--sample: safety factor on the extrapolated wall time (default 1.2)" })
      .option("plots", { type: "string", describe: "directory for SVG loss plots (default: <dir of -o>/plots, else ./plots; --update: none unless given); --no-plots for none" })
      .option("color-by", { type: "string", describe: "also draw each group's curves on one chart coloured by this param (e.g. lr)" })
      .option("log-y", { choices: ["auto", "on", "off"] as const, default: "auto" as LogMode, describe: "log-scale loss axis (auto: when values span two decades)" })
      .option("now", { type: "string", describe: "report time (ISO 8601 or Unix seconds) for reproducible output; default SOURCE_DATE_EPOCH, else the clock" })
      .option("title", { type: "string", describe: "report title (default 'Sweep status')" })
      .option("profile", { type: "string", describe: "cluster profile to put in the slurm-render step of rerun commands" })
      .option("strict", { type: "boolean", default: false, describe: "stop at the first bad input line" })
      .option("quiet", { alias: "q", type: "boolean", default: false, describe: "no informational messages on stderr" }) as never,
  examples: [
    ["slurm-poll --state .slurmpipe | log-parse | summary-md --expected runs.ndjson -o STATUS.md", "status report with plots in ./plots next to STATUS.md"],
    ["cat poll.ndjson | log-parse | summary-md --update experiment_summary.md", "refresh the torchtune status table in place"],
    ["log-parse sample.ndjson | summary-md --sample --expected full.ndjson -o SAMPLE_RUN.md", "sample-run report and verdict"],
    ["summary-md --color-by lr --expected runs.ndjson -o STATUS.md parsed.ndjson", "also plot each group's curves coloured by learning rate"],
  ],
  epilogue:
    "summary-md is a sink: unlike the other slurmpipe commands its stdout is markdown, not NDJSON (use -o to write a file).\n" +
    "Input: run records (any stage: sweep-gen, slurm-submit, slurm-poll, log-parse) and slurm-poll event records; several\n" +
    "records for one run id merge, the last one winning. Times are shown in UTC.",
  run: async (args, ctx) =>
    (await import("./index.ts")).summarize(
      {
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
      },
      {
        stdin: ctx.stdin,
        stdout: ctx.stdout,
        stderr: ctx.stderr,
        env: ctx.env,
        cwd: ctx.cwd,
        log: args.quiet ? { ...ctx.log, info: () => {} } : ctx.log,
      },
    ),
});
