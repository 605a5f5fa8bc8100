import { type Argv, DEFAULT_STATE_DIR, UsageError, parseHumanDuration, remoteFromArgs, withCommonOptions } from "@slurmpipe/core/cli";
// Types only: the library is loaded inside `run`, so `--help` and usage errors start fast.
import type { PollOptions } from "./poller.ts";

/** slurm-poll's options (the common ones from core's group). */
export function pollOptions(y: Argv) {
  // --state has no yargs default: giving it also tracks every job in the ledger (see --ledger).
  const o = withCommonOptions(y, ["state"])
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
    .option("cancel-unsatisfiable", {
      type: "boolean",
      default: false,
      describe: "scancel jobs whose dependency can never be satisfied (PENDING, reason DependencyNeverSatisfied: an afterok upstream failed); one scancel a cycle for all of them",
    })
    .option("progress", {
      type: "string",
      describe: "off a terminal: a summary line (jobs by state, time to the next check) on stderr at most this often, e.g. 10m; off (default). A terminal always gets a live line",
    })
    .option("log", { type: "string", describe: "append a human-readable run log (DISCOVER_EXPERIMENT, IDENTIFY_RUNS, SUBMIT_JOB, SUBMIT_FAILED, ALL_SUBMITTED, STATUS_CHECK, STATE_CHANGE, JOB_LOST, ALL_COMPLETE, ...) to FILE" });
  return withCommonOptions(o, ["strict", "backend", "slurm-bin", "remote", "remote-batch-mode"]).option("query-timeout", {
    type: "string",
    default: "60s",
    describe: "time limit of one squeue or sacct call (a timeout changes nothing)",
  });
}

/** What yargs hands `run` (see pollOptions). */
export type PollCliArgs = ReturnType<typeof pollOptions> extends Argv<infer T> ? T : never;

/** The poll's options from the command line (all but the streams, the logger, cwd and the test hooks). */
export type PollCliOptions = Omit<PollOptions, "stdin" | "stdout" | "stderr" | "log" | "cwd" | "slowMs" | "now" | "onCycle" | "liveProgress">;

/** The poll's options from the parsed command line; `stdinIsTTY`: stdin is a terminal (not read). Bad values are usage errors. */
export function optionsFromArgs(args: PollCliArgs, ctx: { stdinIsTTY: boolean }): PollCliOptions {
  const duration = (text: string | undefined, name: string) => (text === undefined ? undefined : parseHumanDuration(text, name));
  const intervalMs = parseHumanDuration(args.interval, "interval");
  if (intervalMs <= 0) throw new UsageError("--interval must be more than 0");
  const maxRequeues = args["max-requeues"];
  if (maxRequeues !== undefined && (!Number.isInteger(maxRequeues) || maxRequeues < 0)) throw new UsageError("--max-requeues: expected a whole number >= 0");
  const earlyLines = args["early-lines"];
  if (!Number.isInteger(earlyLines) || earlyLines < 1) throw new UsageError("--early-lines: expected a whole number >= 1");
  const ledger = args.ledger ?? (args.state !== undefined || ctx.stdinIsTTY ? true : "auto");
  const timeoutMs = duration(args.timeout, "timeout");
  const earlyMs = duration(args.early, "early");
  const lostAfter = String(args["lost-after"]).trim();
  if (lostAfter.toLowerCase() !== "off" && !/^\d/.test(lostAfter)) throw new UsageError(`--lost-after: expected a duration like 30m or 2h, or off, got ${JSON.stringify(lostAfter)}`);
  const lostAfterMs = lostAfter.toLowerCase() === "off" ? 0 : parseHumanDuration(lostAfter, "lost-after");
  const progressMs = progressOption(args.progress);
  const queryTimeoutMs = parseHumanDuration(args["query-timeout"], "query-timeout");
  if (queryTimeoutMs <= 0) throw new UsageError("--query-timeout must be more than 0 (a duration like 30s or 2m)");
  const state = args.state ?? DEFAULT_STATE_DIR;
  const remote = remoteFromArgs(args, state);
  return {
    state,
    ledger,
    intervalMs,
    maxBackoffMs: Math.max(intervalMs, parseHumanDuration(args["max-backoff"], "max-backoff")),
    once: args.once,
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(maxRequeues !== undefined ? { maxRequeues } : {}),
    lostAfterMs,
    ...(earlyMs !== undefined ? { earlyMs } : {}),
    earlyLines,
    ...(args.log ? { logFile: args.log } : {}),
    strict: args.strict,
    queryTimeoutMs,
    cancelUnsatisfiable: args["cancel-unsatisfiable"],
    ...(progressMs !== undefined ? { progressMs } : {}),
    slurm: { backend: args.backend, ...(args["slurm-bin"] ? { binDir: args["slurm-bin"] } : {}), ...(remote ? { remote } : {}) },
  };
}

/** --progress: a duration > 0 (5s, 10m, 1h), or off / 0 / unset: no summary lines off a terminal. */
export function progressOption(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = String(text).trim();
  if (t.toLowerCase() === "off") return undefined;
  if (!/^\d/.test(t)) throw new UsageError(`--progress: expected a duration like 30s, 10m or 1h, or off, got ${JSON.stringify(t)}`);
  const ms = parseHumanDuration(t, "progress");
  return ms > 0 ? ms : undefined;
}
