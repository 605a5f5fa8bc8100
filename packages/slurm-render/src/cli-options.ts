import { type Argv, DEFAULT_STATE_DIR, UsageError, remoteFromArgs, withCommonOptions, withPositionals } from "@slurmpipe/core/cli";
// Types only, and resource-keys.ts (which imports nothing): the library is loaded inside `run`,
// so `--help` and usage errors start fast.
import type { RenderOptions } from "./render.ts";
import type { Overrides } from "./resolve.ts";
import { INTEGER_KEYS, RESOURCE_KEYS, type ResourceKey, flagHelp, flagName } from "./resource-keys.ts";

const RESOURCES = "Resources (override profile and run spec; a repeated flag: the last one wins):";

/**
 * One flag per resource key (`--gpus-per-node` sets `gpus_per_node`), all read as text: values are
 * checked by the library, which names the flag and the accepted forms (`--nodes abc`, `--time 2h`).
 */
const RESOURCE_FLAG_OPTIONS = Object.fromEntries(RESOURCE_KEYS.map((key) => [flagName(key), { type: "string", describe: flagHelp(key), group: RESOURCES } as const]));

/** `gpus_per_node` -> `gpus-per-node`, as a type. */
type Dashed<S extends string> = S extends `${infer A}_${infer B}` ? `${A}-${Dashed<B>}` : S;
/** What yargs gives for the resource flags: a string, or every value of a repeated flag. */
export type ResourceFlagArgs = { [K in ResourceKey as Dashed<K>]?: string | string[] };

/** slurm-render's options (the common ones from core's group). */
export function renderOptions(y: Argv) {
  const o = y
    // Input files are positional: keep option checking strict, accept positionals.
    // wrap(null): yargs counts the usage text's lines as one paragraph and breaks words mid-way.
    .wrap(null)
    .strict(false)
    .strictOptions(true)
    .option("profile", { alias: "P", type: "string", default: "generic", describe: "cluster profile: generic, local, lumi, olivia or a YAML file" })
    .option("out", { alias: "o", type: "string", default: "runs", describe: "directory for the run directories" })
    // Typed apart (ResourceFlagArgs): a computed record would give the parse result an index signature.
    .options(RESOURCE_FLAG_OPTIONS as Record<never, never>)
    .option("directive", { type: "string", describe: "extra #SBATCH directive, e.g. --directive=--exclusive (repeatable)", group: RESOURCES })
    .option("env", { type: "string", describe: "NAME=VALUE exported in the job, value taken literally (repeatable)", group: "Environment:" })
    .option("setup", { type: "string", describe: "shell line run before the command (repeatable)", group: "Environment:" })
    .option("venv", { type: "string", describe: "virtualenv to activate (inside the container for apptainer)", group: "Environment:" })
    .option("container", { type: "string", describe: "container image (.sif): run the command in it (the profile's runtime: apptainer, or singularity on LUMI)", group: "Environment:" })
    .option("bind", { type: "string", describe: "host path made visible in the container, SRC[:DEST] (repeatable; after the profile's binds)", group: "Environment:" })
    .option("sample", { type: "boolean", default: false, describe: "sample run: job sample-<name>, 00:15:00, one node, scope-reducing overrides appended, in DIR/sample-<name>/", group: "Modes:" })
    .option("sample-override", { type: "string", describe: "argument appended for --sample, e.g. max_steps=100 (replaces the profile's and the run's list); scope keys (steps, epochs, checkpointing, validation, logging frequency, dataset size) only, even if swept; model/optimizer/data keys and other swept params are refused", group: "Modes:" })
    .option("requeue-on-signal", { type: "string", describe: "[SECONDS] --signal=B:SIGTERM@SECONDS + --requeue, forwarding the signal to the training process (default 360; 'off' disables a profile's)", group: "Modes:" })
    .option("array", { type: "boolean", default: false, describe: "one array script per group of runs with identical resources, plus a params table", group: "Modes:" })
    .option("array-limit", { type: "string", describe: "at most K array tasks at once (--array=0-N%K)", group: "Modes:" })
    .option("max-array-size", { type: "string", describe: "split arrays above this many tasks (default: scontrol show config MaxArraySize, the profile's, else 1001)", group: "Modes:" })
    .option("force", { type: "boolean", default: false, describe: "render requests beyond the profile's site limits (partition nodes, time, cores, GPUs, memory) with a warning instead of failing the record" })
    .option("check", { type: "boolean", default: false, describe: "bash -n every script and check option names in extra directives (time, memory and counts are checked always); problems fail the record" });
  const r = withCommonOptions(o, ["remote", "remote-batch-mode"])
    .option("remote", {
      group: "Remote:",
      type: "string",
      describe: "write the scripts on HOST (over one multiplexed ssh connection; --out and run dirs are paths there, relative ones from the login directory): an ~/.ssh/config alias or user@host[:port] (default $SLURMPIPE_REMOTE)",
    })
    .option("state", {
    group: "Remote:",
    type: "string",
    describe: `with --remote: the directory of the ssh control socket, shared with slurm-submit's (default ${DEFAULT_STATE_DIR})`,
  });
  return withCommonOptions(withPositionals(r), ["strict", "quiet", "verbose"]);
}

/** What yargs hands `run` (see renderOptions). */
export type RenderCliArgs = Repeatable<ReturnType<typeof renderOptions> extends Argv<infer T> ? T : never> & ResourceFlagArgs;
/** yargs gives a repeated option as an array of its values, whatever the option's type says. */
type Repeatable<T> = { [K in keyof T]: K extends "_" | "$0" ? T[K] : T[K] | NonNullable<T[K]>[] };

/** The library's options that come from the command line, and the logger's. */
export type RenderCliOptions = Required<Pick<RenderOptions, "inputs" | "profile" | "out" | "overrides" | "sample" | "array" | "check" | "strict">> &
  Pick<RenderOptions, "arrayLimit" | "maxArraySize" | "remote"> & { quiet: boolean; verbose: boolean };

export function parseEnv(list: string[] = []): Record<string, string> | undefined {
  if (list.length === 0) return undefined;
  const env: Record<string, string> = {};
  for (const item of list) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=([\s\S]*)$/.exec(item);
    if (!m) throw new UsageError(`--env: expected NAME=VALUE, got ${JSON.stringify(item)}`);
    env[m[1]!] = m[2]!;
  }
  return env;
}

/** `--bind SRC[:DEST[:OPTS]]`: one host path per flag (a comma list would be split by apptainer). */
export function parseBinds(list: string[] | undefined): string[] | undefined {
  for (const b of list ?? []) {
    if (b === "" || /[\r\n\u0000,]/.test(b) || b.startsWith(":")) throw new UsageError(`--bind: expected a host path SRC[:DEST[:OPTS]], got ${JSON.stringify(b)}`);
  }
  return list;
}

export function parseRequeue(value: string | undefined): Overrides["requeueOnSignal"] {
  if (value === undefined) return undefined;
  if (value === "" || value === "true") return true;
  if (/^(off|false|no|0)$/i.test(value)) return false;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`--requeue-on-signal: expected seconds 1-65535 (or off), got ${JSON.stringify(value)}`);
  return n;
}

/**
 * A repeated option: yargs gives every value in an array; the last one wins, so that a printed
 * command (`slurm-render <rendered_with.args> --mem 38G`) can append a flag to change one value.
 */
export function lastOf<T>(value: T | T[] | undefined): T | undefined {
  return Array.isArray(value) ? value[value.length - 1] : value;
}

/** A repeatable option (`--env A=1 --env B=2`): every value, in order. */
export function listOf(value: string | string[] | undefined): string[] | undefined {
  return value === undefined ? undefined : (Array.isArray(value) ? value : [value]).map(String);
}

function overridesFrom(args: RenderCliArgs): Overrides {
  const resources: Overrides["resources"] = {};
  const given = args as unknown as Record<string, string | string[] | undefined>;
  for (const key of RESOURCE_KEYS) {
    const v = lastOf(given[flagName(key)]);
    if (v === undefined) continue;
    // Checked by the library (render), which names the flag and the accepted forms.
    resources[key] = INTEGER_KEYS.has(key) && /^\d+$/.test(String(v)) ? Number(v) : String(v);
  }
  return {
    resources,
    extra: listOf(args.directive),
    env: parseEnv(listOf(args.env)),
    setup: listOf(args.setup),
    venv: lastOf(args.venv),
    container: lastOf(args.container),
    sampleOverrides: listOf(args["sample-override"]),
    requeueOnSignal: parseRequeue(lastOf(args["requeue-on-signal"])),
    binds: parseBinds(listOf(args.bind)),
    ...(lastOf(args.force) ? { force: true } : {}),
  };
}

/** A positive whole number option (read as text, so a bad value is quoted as the user wrote it). */
function positiveWhole(flag: string, value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(String(value)) || Number(value) < 1) throw new UsageError(`--${flag}: expected a positive whole number, got ${JSON.stringify(String(value))}`);
  return Number(value);
}

/** The options of a render from the parsed command line; bad values are usage errors. */
export function optionsFromArgs(args: RenderCliArgs): RenderCliOptions {
  const arrayLimit = positiveWhole("array-limit", lastOf(args["array-limit"]));
  const maxArraySize = positiveWhole("max-array-size", lastOf(args["max-array-size"]));
  const array = Boolean(lastOf(args.array));
  if (arrayLimit !== undefined && !array) throw new UsageError("--array-limit needs --array");
  const state = lastOf(args.state);
  if (state !== undefined && String(state) === "") throw new UsageError("--state: expected a directory, got \"\"");
  const remote = remoteFromArgs({ remote: lastOf(args.remote), "remote-batch-mode": Boolean(lastOf(args["remote-batch-mode"])) }, state ?? DEFAULT_STATE_DIR);
  return {
    ...(remote ? { remote } : {}),
    inputs: args._.map(String),
    profile: lastOf(args.profile) ?? "generic",
    out: lastOf(args.out) ?? "runs",
    overrides: overridesFrom(args),
    sample: Boolean(lastOf(args.sample)),
    array,
    arrayLimit,
    maxArraySize,
    check: Boolean(lastOf(args.check)),
    strict: Boolean(lastOf(args.strict)),
    quiet: Boolean(lastOf(args.quiet)),
    verbose: Boolean(lastOf(args.verbose)),
  };
}
