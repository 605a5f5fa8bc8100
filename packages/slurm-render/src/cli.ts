import { createLogger, runCommand } from "@slurmpipe/core/cli";
// The library (zod schemas, execa, ...) is loaded inside `run`, so `--help` and usage errors start fast.
import { BUNDLED_PROFILES } from "./builtin-profiles.ts";
import { optionsFromArgs, renderOptions } from "./cli-options.ts";

await runCommand({
  name: "slurm-render",
  usage: "slurm-render [files..] [--profile NAME|FILE] [--out DIR] [options]",
  description: [
    "Turns run specs (NDJSON, e.g. from sweep-gen) into sbatch scripts: one per run",
    "(DIR/<name>/job.sbatch, logs in DIR/<name>/logs/) or, with --array, one array script per",
    "group of runs. Emits each record with script {path, sha256[, array]}, logs {stdout, stderr}",
    "(absolute sbatch patterns), the resolved resources and dir.",
    "",
    "Settings merge in this order, later wins:",
    "  profile < the run spec's `resources` < command-line flags.",
    "Built-in profiles: generic, local, lumi, olivia; or a YAML file (`extends: lumi` to override one).",
    "Every value reaches the program's argv byte for byte (all values are shell-quoted).",
    "A repeated flag: the last one wins; a flag that replaces a different value of a record's",
    "`resources` is said on stderr. Re-rendering an unchanged run leaves its file untouched; a",
    "changed script never replaces the old one (a queued job may run it): it is written beside it",
    "as job.<sha256 prefix>.sbatch. Each record's script.rendered_with.args renders it again.",
  ].join("\n"),
  options: renderOptions,
  examples: [
    ["sweep-gen examples/tier3.yaml | slurm-render --profile lumi --account project_465000123 --container /appl/local/laifs/containers/lumi-multitorch-latest.sif --out runs/", "216 LUMI scripts in runs/<name>/job.sbatch, run in a LUMI AI container"],
    ["sweep-gen grid.yaml | slurm-render --profile olivia --account nn1234k --container /cluster/work/me/pytorch.sif --sample", "sample-run scripts (15 min, scope-reduced) for Olivia"],
    ["sweep-gen grid.yaml | slurm-render --profile generic --array --array-limit 20 | slurm-submit", "one array job, at most 20 tasks at once"],
    ["slurm-render runs.ndjson --profile ./mycluster.yaml --requeue-on-signal 600 --check", "checkpoint-and-requeue 10 minutes before the limit; validate scripts"],
  ],
  epilogue:
    "Time, memory and count values are checked on every render: a bad flag value is a usage error (exit 2), a bad record value fails that record. Records that cannot be rendered get an `error` field ({stage: \"slurm-render\", message, code}) and the exit code is 1.",
  run: async (args, ctx) => {
    const { quiet, verbose, ...options } = optionsFromArgs(args);
    const log = createLogger("slurm-render", { quiet, verbose });
    const { render } = await import("./render.ts");
    return render({ ...options, stdin: ctx.stdin, stdout: ctx.stdout, stderr: ctx.stderr, log, cwd: ctx.cwd, builtinProfiles: BUNDLED_PROFILES });
  },
});
