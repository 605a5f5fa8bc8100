import { type Argv, UsageError, withCommonOptions, withPositionals } from "@slurmpipe/core/cli";
// Types only: the library is loaded inside `run`, so `--help` and usage errors start fast.
import type { ResourceKey } from "./directives.ts";
import type { RenderOptions } from "./render.ts";
import type { Overrides } from "./resolve.ts";

/** The resource flags and the resource each one sets (the order of --help). */
const RESOURCE_FLAGS = {
  account: "account",
  partition: "partition",
  qos: "qos",
  reservation: "reservation",
  nodes: "nodes",
  "ntasks-per-node": "ntasks_per_node",
  "gpus-per-node": "gpus_per_node",
  "cpus-per-task": "cpus_per_task",
  mem: "mem",
  time: "time",
  constraint: "constraint",
  exclude: "exclude",
} as const satisfies Record<string, ResourceKey>;

const RESOURCES = "Resources (override profile and run spec):";
const text = (describe: string) => ({ type: "string", describe, group: RESOURCES }) as const;
const whole = (describe: string) => ({ type: "number", describe, group: RESOURCES }) as const;

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
    .options({
      account: text("#SBATCH --account"),
      partition: text("#SBATCH --partition"),
      qos: text("#SBATCH --qos"),
      reservation: text("#SBATCH --reservation"),
      nodes: whole("#SBATCH --nodes"),
      "ntasks-per-node": whole("#SBATCH --ntasks-per-node"),
      "gpus-per-node": whole("#SBATCH --gpus-per-node"),
      "cpus-per-task": whole("#SBATCH --cpus-per-task"),
      mem: text("#SBATCH --mem, e.g. 32G"),
      time: text("#SBATCH --time, e.g. 02:00:00 or 1-00:00:00"),
      constraint: text("#SBATCH --constraint"),
      exclude: text("#SBATCH --exclude (nodes)"),
    })
    .option("directive", { type: "string", array: true, describe: "extra #SBATCH directive, e.g. --directive=--exclusive (repeatable)", group: RESOURCES })
    .option("env", { type: "string", array: true, describe: "NAME=VALUE exported in the job, value taken literally (repeatable)", group: "Environment:" })
    .option("setup", { type: "string", array: true, describe: "shell line run before the command (repeatable)", group: "Environment:" })
    .option("venv", { type: "string", describe: "virtualenv to activate (inside the container for apptainer)", group: "Environment:" })
    .option("container", { type: "string", describe: "Apptainer image (.sif): run the command with apptainer exec", group: "Environment:" })
    .option("sample", { type: "boolean", default: false, describe: "sample run: job sample-<name>, 00:15:00, one node, scope-reducing overrides appended, in DIR/sample-<name>/", group: "Modes:" })
    .option("sample-override", { type: "string", array: true, describe: "argument appended for --sample, e.g. max_steps=100 (replaces the profile's and the run's list); scope keys (steps, epochs, checkpointing, validation, logging frequency, dataset size) only, even if swept; model/optimizer/data keys and other swept params are refused", group: "Modes:" })
    .option("requeue-on-signal", { type: "string", describe: "[SECONDS] --signal=B:SIGTERM@SECONDS + --requeue, forwarding the signal to the training process (default 360; 'off' disables a profile's)", group: "Modes:" })
    .option("array", { type: "boolean", default: false, describe: "one array script per group of runs with identical resources, plus a params table", group: "Modes:" })
    .option("array-limit", { type: "number", describe: "at most K array tasks at once (--array=0-N%K)", group: "Modes:" })
    .option("max-array-size", { type: "number", describe: "split arrays above this many tasks (default: scontrol show config MaxArraySize, the profile's, else 1001)", group: "Modes:" })
    .option("check", { type: "boolean", default: false, describe: "bash -n every script and validate directives (time, memory, option names); problems fail the record" });
  return withCommonOptions(withPositionals(o), ["strict", "quiet", "verbose"]);
}

/** What yargs hands `run` (see renderOptions). */
export type RenderCliArgs = ReturnType<typeof renderOptions> extends Argv<infer T> ? T : never;

/** The library's options that come from the command line, and the logger's. */
export type RenderCliOptions = Required<Pick<RenderOptions, "inputs" | "profile" | "out" | "overrides" | "sample" | "array" | "check" | "strict">> &
  Pick<RenderOptions, "arrayLimit" | "maxArraySize"> & { quiet: boolean; verbose: boolean };

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

export function parseRequeue(value: string | undefined): Overrides["requeueOnSignal"] {
  if (value === undefined) return undefined;
  if (value === "" || value === "true") return true;
  if (/^(off|false|no|0)$/i.test(value)) return false;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`--requeue-on-signal: expected seconds 1-65535 (or off), got ${JSON.stringify(value)}`);
  return n;
}

function overridesFrom(args: RenderCliArgs): Overrides {
  const resources: Overrides["resources"] = {};
  for (const [flag, key] of Object.entries(RESOURCE_FLAGS) as [keyof typeof RESOURCE_FLAGS, ResourceKey][]) {
    const v = args[flag];
    if (v === undefined) continue;
    if (typeof v === "number" && !(Number.isInteger(v) && v >= 0)) throw new UsageError(`--${flag}: expected a whole number`);
    resources[key] = typeof v === "number" ? v : String(v);
  }
  return {
    resources,
    extra: args.directive,
    env: parseEnv(args.env),
    setup: args.setup,
    venv: args.venv,
    container: args.container,
    sampleOverrides: args["sample-override"],
    requeueOnSignal: parseRequeue(args["requeue-on-signal"]),
  };
}

const positiveWhole = (v: number | undefined) => v === undefined || (Number.isInteger(v) && v > 0);

/** The options of a render from the parsed command line; bad values are usage errors. */
export function optionsFromArgs(args: RenderCliArgs): RenderCliOptions {
  if (!positiveWhole(args["array-limit"])) throw new UsageError("--array-limit must be a positive whole number");
  if (!positiveWhole(args["max-array-size"])) throw new UsageError("--max-array-size must be a positive whole number");
  if (args["array-limit"] !== undefined && !args.array) throw new UsageError("--array-limit needs --array");
  return {
    inputs: args._.map(String),
    profile: args.profile,
    out: args.out,
    overrides: overridesFrom(args),
    sample: args.sample,
    array: args.array,
    arrayLimit: args["array-limit"],
    maxArraySize: args["max-array-size"],
    check: args.check,
    strict: args.strict,
    quiet: args.quiet,
    verbose: args.verbose,
  };
}
