import { runCommand } from "@slurmpipe/core/cli";
// The library (zod schemas, execa, ...) is loaded inside `run`, so `--help` and usage errors start fast.
import { optionsFromArgs, pollOptions } from "./cli-options.ts";

await runCommand({
  name: "slurm-poll",
  usage: "slurm-poll [options] < submitted.ndjson\nslurm-poll --state DIR [--once]",
  description:
    "Watches submitted jobs until every one has ended: one squeue call per cycle for all jobs, and at most one " +
    "sacct call for the jobs that left squeue. Prints one event record per state change " +
    '({"kind":"event",...}) and each run record with its final `state`. A failed query changes nothing; a job ' +
    "neither squeue nor sacct knows is UNKNOWN, never failed, and after --lost-after of answered queries it is " +
    'no longer waited for (state.flag "lost"). Requeued jobs are followed, not reported failed. ' +
    "Reads run records from stdin (a live pipe from slurm-submit works) and/or slurm-submit's ledger " +
    "(--state); remembers what it reported in <state>/poll/ so a restarted poll repeats no event.",
  options: pollOptions,
  examples: [
    ["slurm-submit < rendered.ndjson | slurm-poll --interval 30s --early 3m --max-requeues 3", "report early failures with their stderr tail"],
    ["sweep-gen grid.yaml | slurm-render --profile generic | slurm-submit | slurm-poll --log run.log | summary-md > STATUS.md", "submit and watch a sweep"],
    ["slurm-poll --once --state .slurmpipe | summary-md > STATUS.md", "cron: one cycle, a status table of every run"],
    ["slurm-poll --state .slurmpipe | jq -c 'select(.kind == \"event\")'", "only the state changes"],
    ["slurm-poll --state .slurmpipe --cancel-unsatisfiable --progress 10m 2>> poll.err", "cancel jobs whose afterok upstream failed; a summary line every 10 minutes"],
  ],
  epilogue:
    "Exit codes (slurm-poll): 0 every job COMPLETED; 1 a job ended otherwise (FAILED, CANCELLED, TIMEOUT, ...), a job is blocked " +
    "(PENDING for good: its dependency can never be satisfied), or bad input; " +
    "3 jobs still running or UNKNOWN after --once or --timeout, or lost (--lost-after) (also when some already failed); 2 usage error.",
  run: async (args, ctx) => {
    const tty = Boolean((ctx.stdin as { isTTY?: boolean }).isTTY);
    const options = optionsFromArgs(args, { stdinIsTTY: tty });
    const { poll } = await import("./poller.ts");
    const liveProgress = Boolean((ctx.stderr as { isTTY?: boolean }).isTTY) && !options.once;
    return poll({ ...options, liveProgress, stdin: tty ? null : ctx.stdin, stdout: ctx.stdout, stderr: ctx.stderr, log: ctx.log, cwd: ctx.cwd });
  },
});
