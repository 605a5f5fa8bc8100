import { UsageError, createLogger, parseHumanDuration, parseRate, runCommand } from "@slurmpipe/core/cli";
// The library (zod schemas, execa, ...) is loaded inside `run`, so `--help` and usage errors start fast.

interface Args {
  _: (string | number)[];
  state: string;
  "dry-run": boolean;
  resubmit?: string;
  "resubmit-where"?: string[];
  only?: string[];
  stagger: string;
  rate?: string;
  "max-in-flight"?: number;
  "in-flight-interval": string;
  "sbatch-arg"?: string[];
  attempts: number;
  "confirm-delay": string;
  "wait-lock"?: string;
  "lock-stale": string;
  backend: "slurm" | "local";
  "slurm-bin"?: string;
  "sbatch-timeout": string;
  strict: boolean;
  quiet: boolean;
  verbose: boolean;
}

const USAGE = "slurm-submit [options] [FILE...]";

/** `--wait-lock` alone waits (practically) forever; `--wait-lock 10m` at most that long. */
const FOREVER_MS = 7 * 86_400_000;

await runCommand<Args>({
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
  options: (y) =>
    y
      // Input files are positional: strict about options only.
      .strict(false)
      .strictOptions(true)
      .option("state", { type: "string", default: ".slurmpipe", describe: "state directory (ledger and lock)", group: "State:" })
      .option("wait-lock", { type: "string", describe: "if another slurm-submit holds the state directory, wait for it (at most DURATION) instead of exiting 2", group: "State:" })
      .option("lock-stale", { type: "string", default: "10s", describe: "a lock not refreshed for this long (its holder was killed) is taken over; min 5s", group: "State:" })
      .option("dry-run", { type: "boolean", default: false, describe: "print the sbatch command of each run (stderr, and sbatch_argv in the records); submit nothing, write nothing", group: "State:" })
      .option("resubmit", { type: "string", describe: "submit again runs whose job ended: failed (FAILED, TIMEOUT, OUT_OF_MEMORY, CANCELLED, ...), all, or a list of states like TIMEOUT,OUT_OF_MEMORY", group: "Selection:" })
      .option("resubmit-where", { type: "string", array: true, describe: "resubmit only runs whose record matches FIELD=VALUE[,VALUE] (state.* is Slurm's current state); repeatable, all must match; alone it means --resubmit all", group: "Selection:" })
      .option("only", { type: "string", array: true, describe: "submit or resubmit only records matching FIELD=VALUE[,VALUE] (or FIELD!=VALUE); the others pass through", group: "Selection:" })
      .option("stagger", { type: "string", default: "0", describe: "minimum time between two sbatch calls, e.g. 5s (one array is one call)", group: "Pacing:" })
      .option("rate", { type: "string", describe: "at most N sbatch calls per period, e.g. 20/1m", group: "Pacing:" })
      .option("max-in-flight", { type: "number", describe: "wait while N jobs (array tasks count one each) of this state directory are pending or running", group: "Pacing:" })
      .option("in-flight-interval", { type: "string", default: "20s", describe: "how often to count jobs in flight while at the limit (one squeue call each)", group: "Pacing:" })
      .option("sbatch-arg", { type: "string", array: true, describe: "extra sbatch option, e.g. --sbatch-arg=--hold (repeatable; use the = form)", group: "Slurm:" })
      .option("attempts", { type: "number", default: 5, describe: "sbatch calls per run on transient failures (each retry only after the job was looked up and not found)", group: "Slurm:" })
      .option("confirm-delay", { type: "string", default: "3s", describe: "pause before looking a missing job up a second time (Slurm may still be creating it)", group: "Slurm:" })
      .option("sbatch-timeout", { type: "string", default: "60s", describe: "time limit of one sbatch, squeue or sacct call", group: "Slurm:" })
      .option("backend", { choices: ["slurm", "local"] as const, default: "slurm" as const, describe: "slurm: the real client commands; local: jobs run on this machine", group: "Slurm:" })
      .option("slurm-bin", { type: "string", describe: "directory holding sbatch/squeue/sacct (default $SLURMPIPE_SLURM_BIN, else PATH)", group: "Slurm:" })
      .option("strict", { type: "boolean", default: false, describe: "stop at the first bad input line" })
      .option("quiet", { alias: "q", type: "boolean", default: false, describe: "only warnings and errors on stderr" })
      .option("verbose", { alias: "v", type: "boolean", default: false, describe: "one stderr line per run" }) as never,
  examples: [
    ["sweep-gen grid.yaml | slurm-render --profile lumi | slurm-submit --stagger 5s | slurm-poll", "submit a sweep 5 s apart and watch it"],
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
    const log = createLogger("slurm-submit", { quiet: args.quiet, verbose: args.verbose });
    const duration = (text: string, name: string) => parseHumanDuration(text, name);
    const maxInFlight = args["max-in-flight"];
    if (maxInFlight !== undefined && !(Number.isInteger(maxInFlight) && maxInFlight > 0)) throw new UsageError("--max-in-flight: expected a whole number > 0");
    if (!(Number.isInteger(args.attempts) && args.attempts > 0)) throw new UsageError("--attempts: expected a whole number > 0");
    const waitLock = args["wait-lock"];
    const lockStaleMs = duration(args["lock-stale"], "lock-stale");
    if (lockStaleMs < 5000) throw new UsageError("--lock-stale: at least 5s (the lock is refreshed every half of it)");
    const timeoutMs = duration(args["sbatch-timeout"], "sbatch-timeout");
    const [{ LockedError }, { parseResubmit, parseSelector }, { submit }] = await Promise.all([
      import("@slurmpipe/core"),
      import("./select.ts"),
      import("./submit.ts"),
    ]);
    try {
      const { code } = await submit({
        inputs: args._.map(String),
        stdin: ctx.stdin,
        stdout: ctx.stdout,
        stderr: ctx.stderr,
        log,
        cwd: ctx.cwd,
        stateDir: args.state,
        dryRun: args["dry-run"],
        strict: args.strict,
        ...(args.resubmit !== undefined ? { resubmit: parseResubmit(args.resubmit) } : {}),
        resubmitWhere: (args["resubmit-where"] ?? []).map((s) => parseSelector(s, "resubmit-where")),
        only: (args.only ?? []).map((s) => parseSelector(s, "only")),
        staggerMs: duration(args.stagger, "stagger"),
        ...(args.rate ? { rate: parseRate(args.rate) } : {}),
        ...(maxInFlight ? { maxInFlight } : {}),
        inFlightIntervalMs: Math.max(1000, duration(args["in-flight-interval"], "in-flight-interval")),
        sbatchArgs: args["sbatch-arg"] ?? [],
        submitAttempts: args.attempts,
        confirmDelayMs: duration(args["confirm-delay"], "confirm-delay"),
        waitLockMs: waitLock === undefined ? 0 : waitLock === "" ? FOREVER_MS : duration(waitLock, "wait-lock"),
        lockStaleMs,
        client: {
          backend: args.backend,
          timeoutMs,
          ...(args["slurm-bin"] ? { binDir: args["slurm-bin"] } : {}),
        },
      });
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
