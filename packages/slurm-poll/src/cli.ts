import { UsageError, parseHumanDuration, runCommand } from "@slurmpipe/core/cli";
// The library (zod schemas, execa, ...) is loaded inside `run`, so `--help` and usage errors start fast.

interface Args {
  state?: string;
  ledger?: boolean;
  interval: string;
  "max-backoff": string;
  once: boolean;
  timeout?: string;
  "max-requeues"?: number;
  "lost-after": string;
  early?: string;
  "early-lines": number;
  log?: string;
  strict: boolean;
  backend: "slurm" | "local";
  "slurm-bin"?: string;
  "query-timeout": string;
}

await runCommand<Args>({
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
  options: (y) =>
    y
      .option("state", { type: "string", describe: "state directory of slurm-submit (default .slurmpipe); giving it also tracks every job in its ledger" })
      .option("ledger", { type: "boolean", describe: "track the ledger's jobs (default: with --state, when stdin is a terminal, or when stdin is empty)" })
      .option("interval", { type: "string", default: "60s", describe: "time between cycles (5s, 2m, ...)" })
      .option("max-backoff", { type: "string", default: "10m", describe: "cap of the doubling interval while the controller is slow or failing" })
      .option("once", { type: "boolean", default: false, describe: "one cycle, print every tracked run's current record, exit (for cron)" })
      .option("timeout", { type: "string", describe: "stop watching after this long (exit 3 if jobs are still running)" })
      .option("max-requeues", { type: "number", describe: "flag jobs requeued more than N times (warning + state.flag)" })
      .option("lost-after", {
        type: "string",
        default: "30m",
        describe:
          'stop waiting for a job missing from both squeue and sacct this long, counted over cycles where both answered; it stays UNKNOWN with state.flag "lost" (exit 3). off or 0: wait forever',
      })
      .option("early", { type: "string", describe: "jobs failing within this run time (e.g. 3m) are reported with the tail of their stderr" })
      .option("early-lines", { type: "number", default: 20, describe: "stderr lines kept for --early" })
      .option("log", { type: "string", describe: "append a human-readable run log (SUBMIT_JOB, STATUS_CHECK, STATE_CHANGE, JOB_LOST, ALL_COMPLETE) to FILE" })
      .option("strict", { type: "boolean", default: false, describe: "stop at the first bad input line" })
      .option("backend", { choices: ["slurm", "local"] as const, default: "slurm" as const, describe: "slurm: the real client commands; local: jobs run on this machine" })
      .option("slurm-bin", { type: "string", describe: "directory holding squeue/sacct (default $SLURMPIPE_SLURM_BIN, else PATH)" })
      .option("query-timeout", { type: "string", default: "60s", describe: "time limit of one squeue or sacct call (a timeout changes nothing)" }) as never,
  examples: [
    ["sweep-gen grid.yaml | slurm-render --profile lumi | slurm-submit | slurm-poll --log run.log | summary-md > STATUS.md", "submit and watch a sweep"],
    ["slurm-poll --once --state .slurmpipe | summary-md > STATUS.md", "cron: one cycle, a status table of every run"],
    ["slurm-submit < runs.ndjson | slurm-poll --interval 30s --early 3m --max-requeues 3", "report early failures with their stderr tail"],
    ["slurm-poll --state .slurmpipe | jq -c 'select(.kind == \"event\")'", "only the state changes"],
  ],
  epilogue:
    "Exit codes (slurm-poll): 0 every job COMPLETED; 1 a job ended otherwise (FAILED, CANCELLED, TIMEOUT, ...) or bad input; " +
    "3 jobs still running or UNKNOWN after --once or --timeout, or lost (--lost-after) (also when some already failed); 2 usage error.",
  run: async (args, ctx) => {
    const duration = (text: string | undefined, name: string) => (text === undefined ? undefined : parseHumanDuration(text, name));
    const intervalMs = duration(args.interval, "interval")!;
    if (intervalMs <= 0) throw new UsageError("--interval must be more than 0");
    const maxRequeues = args["max-requeues"];
    if (maxRequeues !== undefined && (!Number.isInteger(maxRequeues) || maxRequeues < 0)) throw new UsageError("--max-requeues: expected a whole number >= 0");
    const earlyLines = args["early-lines"];
    if (!Number.isInteger(earlyLines) || earlyLines < 1) throw new UsageError("--early-lines: expected a whole number >= 1");
    const tty = Boolean((ctx.stdin as { isTTY?: boolean }).isTTY);
    const ledger = args.ledger ?? (args.state !== undefined || tty ? true : "auto");
    const timeoutMs = duration(args.timeout, "timeout");
    const earlyMs = duration(args.early, "early");
    const lostAfter = String(args["lost-after"]).trim();
    if (lostAfter.toLowerCase() !== "off" && !/^\d/.test(lostAfter)) throw new UsageError(`--lost-after: expected a duration like 30m or 2h, or off, got ${JSON.stringify(lostAfter)}`);
    const lostAfterMs = lostAfter.toLowerCase() === "off" ? 0 : duration(lostAfter, "lost-after")!;
    const { poll } = await import("./poller.ts");
    return poll({
      state: args.state ?? ".slurmpipe",
      ledger,
      stdin: tty ? null : ctx.stdin,
      stdout: ctx.stdout,
      stderr: ctx.stderr,
      log: ctx.log,
      cwd: ctx.cwd,
      intervalMs,
      maxBackoffMs: Math.max(intervalMs, duration(args["max-backoff"], "max-backoff")!),
      once: args.once,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(maxRequeues !== undefined ? { maxRequeues } : {}),
      lostAfterMs,
      ...(earlyMs !== undefined ? { earlyMs } : {}),
      earlyLines,
      ...(args.log ? { logFile: args.log } : {}),
      strict: args.strict,
      queryTimeoutMs: duration(args["query-timeout"], "query-timeout")!,
      slurm: { backend: args.backend, ...(args["slurm-bin"] ? { binDir: args["slurm-bin"] } : {}) },
    });
  },
});
