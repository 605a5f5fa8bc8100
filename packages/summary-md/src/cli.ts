import { runCommand } from "@slurmpipe/core/cli";
// The library (zod schemas, execa, ...) is loaded inside `run`, so `--help` and usage errors start fast.
import { optionsFromArgs, summaryOptions } from "./cli-options.ts";

await runCommand({
  name: "summary-md",
  usage: "summary-md [files..] [options]",
  description:
    "Turns run records (sweep-gen | slurm-submit | slurm-poll | log-parse output) into a markdown status report: counts, " +
    "a table per group with completion %, failures with their evidence, efficiency (MaxRSS vs requested memory, elapsed vs " +
    "time limit), the exact commands to rerun what failed or is missing, and SVG loss plots. --update rewrites the status " +
    "table of an existing experiment_summary.md in place; --sample writes the sample-run report with a READY / NOT READY verdict.",
  options: summaryOptions,
  examples: [
    ["slurm-poll --state .slurmpipe | log-parse | summary-md --expected runs.ndjson -o STATUS.md", "status report with plots in ./plots next to STATUS.md"],
    ["cat poll.ndjson | log-parse | summary-md --update experiment_summary.md", "refresh the torchtune status table in place"],
    ["log-parse < sample.ndjson | summary-md --sample --expected full.ndjson -o SAMPLE_RUN.md", "sample-run report and verdict"],
    ["summary-md --color-by lr --expected runs.ndjson -o STATUS.md parsed.ndjson", "also plot each group's curves coloured by learning rate"],
  ],
  epilogue:
    "summary-md is a sink: unlike the other slurmpipe commands its stdout is markdown, not NDJSON (use -o to write a file).\n" +
    "Input: run records (any stage: sweep-gen, slurm-submit, slurm-poll, log-parse) and slurm-poll event records; several\n" +
    "records for one run id merge, the last one winning; a job's state is the newest of its record and its poll events (by\n" +
    "time). Started/Completed are Slurm's own times, shown in UTC.",
  run: async (args, ctx) => {
    const { options, quiet } = optionsFromArgs(args);
    const { summarize } = await import("./index.ts");
    return summarize(options, {
      stdin: ctx.stdin,
      stdout: ctx.stdout,
      stderr: ctx.stderr,
      env: ctx.env,
      cwd: ctx.cwd,
      log: quiet ? { ...ctx.log, info: () => {} } : ctx.log,
    });
  },
});
