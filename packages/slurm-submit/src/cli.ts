import { createLogger, runCommand } from "@slurmpipe/core/cli";
// The library (zod schemas, execa, ...) is loaded inside `run`, so `--help` and usage errors start fast.
import { optionsFromArgs, submitOptions } from "./cli-options.ts";

const USAGE = "slurm-submit [options] [FILE...]";

await runCommand({
  name: "slurm-submit",
  usage: USAGE,
  description:
    "Submits each run record's script (script.path, from slurm-render) with `sbatch --parsable` in the " +
      "script's directory and prints the record with `job` {id, cluster, name, submitted_at, argv, attempt, " +
      "backend}. Reads stdin, or FILEs. Never submits a run twice: an append-only ledger in the state " +
      "directory records an intent before every sbatch and the result after it, and every job is named " +
      "<name>.sp<run id>, so after a crash or an sbatch timeout the job is found by its name in " +
      "squeue/sacct instead of being submitted again. Runs already pending, running or done are skipped " +
      "(and printed with their job). The whole input is read before submitting (priorities, dependencies " +
      "and arrays need it).",
  options: submitOptions,
  examples: [
    ["sweep-gen grid.yaml | slurm-render --profile generic | slurm-submit --stagger 5s | slurm-poll", "submit a sweep 5 s apart and watch it"],
    ["slurm-submit --dry-run < rendered.ndjson > /dev/null", "show the sbatch command of every run"],
    ["slurm-poll --once --state .slurmpipe | slurm-submit --resubmit failed", "resubmit the runs whose job failed (attempt 2, job name ...r2)"],
    ["slurm-submit --resubmit-where state.state=TIMEOUT --only group=lr-sweep < rendered.ndjson", "resubmit only the timed-out runs of one group"],
    ["slurm-submit --max-in-flight 50 --rate 20/1m --wait-lock < rendered.ndjson", "stay under a submit limit; wait for a running slurm-submit"],
  ],
  epilogue:
    "Exit codes (slurm-submit): 0 every run submitted or already submitted; 1 some records failed (error records " +
    "with the sbatch message, bad input lines, or a submission whose outcome could not be checked: rerun to " +
    "reconcile); 2 usage error, or the state directory is locked by another slurm-submit (see --wait-lock).",
  run: async (args, ctx) => {
    const [{ LockedError }, select, { submit }] = await Promise.all([import("@slurmpipe/core"), import("./select.ts"), import("./submit.ts")]);
    const { quiet, verbose, ...options } = optionsFromArgs(args, select);
    const log = createLogger("slurm-submit", { quiet, verbose });
    try {
      const { code } = await submit({ ...options, stdin: ctx.stdin, stdout: ctx.stdout, stderr: ctx.stderr, log, cwd: ctx.cwd });
      return code;
    } catch (e) {
      if (e instanceof LockedError) {
        log.error(`${e.message} (or pass --wait-lock)`);
        return 2;
      }
      throw e;
    }
  },
});
