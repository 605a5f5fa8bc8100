import type { Argv, InferredOptionTypes, Options } from "yargs";
import { UsageError } from "../ndjson/errors.ts";
import { RemoteHostError, parseRemoteHost } from "../remote/host.ts";

export type { Argv } from "yargs";

/**
 * The default state directory of slurm-submit and slurm-poll. `--state` has no yargs default
 * (slurm-poll must know whether it was given: giving it also tracks the ledger's jobs); each
 * command's options function resolves an absent `--state` to this.
 */
export const DEFAULT_STATE_DIR = ".slurmpipe";

/**
 * The options several commands share: one definition each (type, default, alias, help text and
 * help heading), so every command that has one says the same thing about it. A command adds the
 * ones it uses with `withCommonOptions(y, [...names])`; a command never gains one it does not use.
 */
export const COMMON_OPTIONS = {
  backend: {
    group: "Slurm:",
    choices: ["slurm", "local"] as const,
    default: "slurm" as const,
    describe: "slurm: the real client commands; local: jobs run on this machine (with --remote: on HOST, detached, node >= 20 needed there)",
  },
  "slurm-bin": {
    group: "Slurm:",
    type: "string",
    describe: "directory holding the Slurm client commands sbatch, squeue and sacct (default $SLURMPIPE_SLURM_BIN, else PATH)",
  },
  remote: {
    group: "Remote:",
    type: "string",
    describe: "run the Slurm commands on HOST over one multiplexed ssh connection: an ~/.ssh/config alias or user@host[:port] (default $SLURMPIPE_REMOTE); with --backend local (bare box) the jobs run on HOST, which needs node >= 20 on its non-interactive PATH, a POSIX sh and bash",
  },
  "remote-batch-mode": {
    group: "Remote:",
    type: "boolean",
    default: false,
    describe: "ssh BatchMode=yes: fail instead of asking for a password or 2FA code (cron); off by default so the first connect can prompt",
  },
  state: {
    group: "State:",
    type: "string",
    describe: `slurm-submit's state directory: its ledger and lock, and slurm-poll's poll/ (default ${DEFAULT_STATE_DIR})`,
  },
  strict: {
    group: "Common options:",
    type: "boolean",
    default: false,
    describe: "stop at the first bad input line or record (default: report it and go on with the next)",
  },
  quiet: {
    group: "Common options:",
    alias: "q",
    type: "boolean",
    default: false,
    describe: "only warnings and errors on stderr, no info messages",
  },
  verbose: {
    group: "Common options:",
    alias: "v",
    type: "boolean",
    default: false,
    describe: "also debug messages on stderr (e.g. one line per run)",
  },
} as const satisfies Record<string, Options>;

export type CommonOptionName = keyof typeof COMMON_OPTIONS;

/** The parsed values of the chosen common options, as yargs infers them. */
export type CommonArgs<K extends CommonOptionName> = InferredOptionTypes<Pick<typeof COMMON_OPTIONS, K>>;

/** The definitions of the chosen common options (a fresh object: yargs may annotate what it is given). */
export function commonOptions<K extends CommonOptionName>(names: readonly K[]): Pick<typeof COMMON_OPTIONS, K> {
  const out: Partial<Record<CommonOptionName, Options>> = {};
  for (const name of names) {
    if (!Object.hasOwn(COMMON_OPTIONS, name)) throw new Error(`not a common option: ${String(name)}`);
    out[name] = { ...COMMON_OPTIONS[name] };
  }
  return out as Pick<typeof COMMON_OPTIONS, K>;
}

/** Adds the chosen common options to a yargs parser, keeping every option's inferred type. */
export function withCommonOptions<T, K extends CommonOptionName>(y: Argv<T>, names: readonly K[]): Argv<Omit<T, K> & CommonArgs<K>> {
  return y.options(commonOptions(names));
}

/** The positional arguments yargs collects in `_` (runCommand hands the whole parse to `run`). */
export interface Positionals {
  _: (string | number)[];
}

/**
 * Declares in the parser's type that `run` receives yargs' positional arguments (`_`), which yargs
 * always collects; for commands that take input files as positional arguments.
 */
export function withPositionals<T>(y: Argv<T>): Argv<T & Positionals> {
  return y as unknown as Argv<T & Positionals>;
}

/** The remote host of `--remote`, else $SLURMPIPE_REMOTE, else none; a malformed one is a usage error naming the source. */
export function remoteFromArgs(
  args: { remote?: string | undefined; "remote-batch-mode"?: boolean | undefined; backend?: string | undefined },
  stateDir: string,
  env: Record<string, string | undefined> = process.env,
): { host: string; stateDir: string; batchMode: boolean } | undefined {
  const given = args.remote ?? (env.SLURMPIPE_REMOTE || undefined);
  if (given === undefined) return undefined;
  const source = args.remote !== undefined ? "--remote" : "SLURMPIPE_REMOTE";
  try {
    parseRemoteHost(given);
  } catch (e) {
    if (e instanceof RemoteHostError) throw new UsageError(e.message.replace(/^--remote/, source));
    throw e;
  }
  return { host: given, stateDir, batchMode: Boolean(args["remote-batch-mode"]) };
}
