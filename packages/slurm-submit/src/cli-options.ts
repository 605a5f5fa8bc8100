import { type Argv, DEFAULT_STATE_DIR, UsageError, parseHumanDuration, parseRate, remoteFromArgs, withCommonOptions, withPositionals } from "@slurmpipe/core/cli";
// Types only: the library is loaded inside `run`, so `--help` and usage errors start fast.
import type { SubmitOptions } from "./options.ts";
import type { parseResubmit, parseSelector } from "./select.ts";

/** `--wait-lock` alone waits (practically) forever; `--wait-lock 10m` at most that long. */
export const FOREVER_MS = 7 * 86_400_000;

/** slurm-submit's options (the common ones from core's group, each where its --help group lists it). */
export function submitOptions(y: Argv) {
  const state = withCommonOptions(
    y
      // Input files are positional: strict about options only.
      .strict(false)
      .strictOptions(true),
    ["state"],
  )
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
    .option("sbatch-timeout", { type: "string", default: "60s", describe: "time limit of one sbatch, squeue or sacct call", group: "Slurm:" });
  return withCommonOptions(withCommonOptions(withPositionals(state), ["backend", "slurm-bin", "remote", "remote-batch-mode"]), ["strict", "quiet", "verbose"]);
}

/** What yargs hands `run` (see submitOptions). */
export type SubmitCliArgs = ReturnType<typeof submitOptions> extends Argv<infer T> ? T : never;

/** The submission's options from the command line (all but the streams, the logger and cwd). */
export type SubmitCliOptions = Omit<SubmitOptions, "stdin" | "stdout" | "stderr" | "log" | "cwd"> & { quiet: boolean; verbose: boolean };

/** The parsers of --resubmit and --only/--resubmit-where, from the library (select.ts). */
export interface SelectParsers {
  parseResubmit: typeof parseResubmit;
  parseSelector: typeof parseSelector;
}

/** The submission's options from the parsed command line; bad values are usage errors. */
export function optionsFromArgs(args: SubmitCliArgs, select: SelectParsers): SubmitCliOptions {
  const duration = (text: string, name: string) => parseHumanDuration(text, name);
  const maxInFlight = args["max-in-flight"];
  if (maxInFlight !== undefined && !(Number.isInteger(maxInFlight) && maxInFlight > 0)) throw new UsageError(`--max-in-flight: expected a whole number > 0, got ${String(maxInFlight)}`);
  if (!(Number.isInteger(args.attempts) && args.attempts > 0)) throw new UsageError(`--attempts: expected a whole number > 0, got ${String(args.attempts)}`);
  const waitLock = args["wait-lock"];
  const lockStaleMs = duration(args["lock-stale"], "lock-stale");
  if (lockStaleMs < 5000) throw new UsageError("--lock-stale: at least 5s (the lock is refreshed every half of it)");
  const timeoutMs = duration(args["sbatch-timeout"], "sbatch-timeout");
  if (timeoutMs <= 0) throw new UsageError(`--sbatch-timeout: expected a duration > 0 like 60s or 2m, got ${JSON.stringify(args["sbatch-timeout"])}`);
  const sbatchArgs = args["sbatch-arg"] ?? [];
  const notOption = sbatchArgs.find((a) => !a.startsWith("-"));
  if (notOption !== undefined) throw new UsageError(`--sbatch-arg: expected an sbatch option like --sbatch-arg=--hold or --sbatch-arg=--qos=high, got ${JSON.stringify(notOption)}`);
  const stateDir = args.state ?? DEFAULT_STATE_DIR;
  const remote = remoteFromArgs(args, stateDir);
  return {
    inputs: args._.map(String),
    stateDir,
    dryRun: args["dry-run"],
    strict: args.strict,
    ...(args.resubmit !== undefined ? { resubmit: select.parseResubmit(args.resubmit) } : {}),
    resubmitWhere: (args["resubmit-where"] ?? []).map((s) => select.parseSelector(s, "resubmit-where")),
    only: (args.only ?? []).map((s) => select.parseSelector(s, "only")),
    staggerMs: duration(args.stagger, "stagger"),
    ...(args.rate !== undefined ? { rate: rateOption(args.rate) } : {}),
    ...(maxInFlight ? { maxInFlight } : {}),
    inFlightIntervalMs: Math.max(1000, duration(args["in-flight-interval"], "in-flight-interval")),
    sbatchArgs,
    submitAttempts: args.attempts,
    confirmDelayMs: duration(args["confirm-delay"], "confirm-delay"),
    waitLockMs: waitLock === undefined ? 0 : waitLock === "" ? FOREVER_MS : duration(waitLock, "wait-lock"),
    lockStaleMs,
    client: {
      backend: args.backend,
      timeoutMs,
      ...(args["slurm-bin"] ? { binDir: args["slurm-bin"] } : {}),
      ...(remote ? { remote } : {}),
    },
    quiet: args.quiet,
    verbose: args.verbose,
  };
}

/** `--rate N/PERIOD`: the error names the value as given, and a period must be longer than 0. */
function rateOption(text: string): { count: number; periodMs: number } {
  const forms = "N/PERIOD with N >= 1 and a period like 1m, 30s or 1h (e.g. 20/1m, 5/s)";
  let rate: { count: number; periodMs: number };
  try {
    rate = parseRate(text);
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(`--rate: expected ${forms}, got ${JSON.stringify(text)}`);
    throw e;
  }
  if (!(rate.periodMs > 0)) throw new UsageError(`--rate: expected ${forms}, got ${JSON.stringify(text)} (the period is 0)`);
  return rate;
}
