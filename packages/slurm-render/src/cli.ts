import { UsageError, createLogger, runCommand } from "@slurmpipe/core/cli";
// The library (zod schemas, execa, ...) is loaded inside `run`, so `--help` and usage errors start fast.
import { BUNDLED_PROFILES } from "./builtin-profiles.ts";
import type { ResourceKey } from "./directives.ts";
import type { Overrides } from "./resolve.ts";

const RESOURCE_FLAGS: [flag: string, key: ResourceKey, desc: string][] = [
  ["account", "account", "#SBATCH --account"],
  ["partition", "partition", "#SBATCH --partition"],
  ["qos", "qos", "#SBATCH --qos"],
  ["reservation", "reservation", "#SBATCH --reservation"],
  ["nodes", "nodes", "#SBATCH --nodes"],
  ["ntasks-per-node", "ntasks_per_node", "#SBATCH --ntasks-per-node"],
  ["gpus-per-node", "gpus_per_node", "#SBATCH --gpus-per-node"],
  ["cpus-per-task", "cpus_per_task", "#SBATCH --cpus-per-task"],
  ["mem", "mem", "#SBATCH --mem, e.g. 32G"],
  ["time", "time", "#SBATCH --time, e.g. 02:00:00 or 1-00:00:00"],
  ["constraint", "constraint", "#SBATCH --constraint"],
  ["exclude", "exclude", "#SBATCH --exclude (nodes)"],
];

interface Args {
  profile: string;
  out: string;
  directive?: string[];
  env?: string[];
  setup?: string[];
  venv?: string;
  container?: string;
  sample: boolean;
  "sample-override"?: string[];
  "requeue-on-signal"?: string;
  array: boolean;
  "array-limit"?: number;
  "max-array-size"?: number;
  check: boolean;
  strict: boolean;
  quiet: boolean;
  verbose: boolean;
  [flag: string]: unknown;
}

function parseEnv(list: string[] = []): Record<string, string> | undefined {
  if (list.length === 0) return undefined;
  const env: Record<string, string> = {};
  for (const item of list) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=([\s\S]*)$/.exec(item);
    if (!m) throw new UsageError(`--env: expected NAME=VALUE, got ${JSON.stringify(item)}`);
    env[m[1]!] = m[2]!;
  }
  return env;
}

function parseRequeue(value: string | undefined): Overrides["requeueOnSignal"] {
  if (value === undefined) return undefined;
  if (value === "" || value === "true") return true;
  if (/^(off|false|no|0)$/i.test(value)) return false;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`--requeue-on-signal: expected seconds 1-65535 (or off), got ${JSON.stringify(value)}`);
  return n;
}

function overridesFrom(args: Args): Overrides {
  const resources: Overrides["resources"] = {};
  for (const [flag, key] of RESOURCE_FLAGS) {
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

await runCommand<Args>({
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
    "Re-rendering an unchanged run leaves its file untouched.",
  ].join("\n"),
  options: (y) => {
    // Input files are positional: keep option checking strict, accept positionals.
    // wrap(null): yargs counts the usage text's lines as one paragraph and breaks words mid-way.
    let o = y
      .wrap(null)
      .strict(false)
      .strictOptions(true)
      .option("profile", { alias: "P", type: "string", default: "generic", describe: "cluster profile: generic, local, lumi, olivia or a YAML file" })
      .option("out", { alias: "o", type: "string", default: "runs", describe: "directory for the run directories" });
    for (const [flag, , desc] of RESOURCE_FLAGS) {
      const numeric = ["nodes", "ntasks-per-node", "gpus-per-node", "cpus-per-task"].includes(flag);
      o = o.option(flag, { type: numeric ? "number" : "string", describe: desc, group: "Resources (override profile and run spec):" });
    }
    return o
      .option("directive", { type: "string", array: true, describe: "extra #SBATCH directive, e.g. --directive=--exclusive (repeatable)", group: "Resources (override profile and run spec):" })
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
      .option("check", { type: "boolean", default: false, describe: "bash -n every script and validate directives (time, memory, option names); problems fail the record" })
      .option("strict", { type: "boolean", default: false, describe: "stop at the first bad record" })
      .option("quiet", { alias: "q", type: "boolean", default: false, describe: "no info messages" })
      .option("verbose", { alias: "v", type: "boolean", default: false, describe: "debug messages" })
      .check((a) => {
        if (a["array-limit"] !== undefined && !(Number.isInteger(a["array-limit"]) && (a["array-limit"] as number) > 0)) throw new UsageError("--array-limit must be a positive whole number");
        if (a["max-array-size"] !== undefined && !(Number.isInteger(a["max-array-size"]) && (a["max-array-size"] as number) > 0)) throw new UsageError("--max-array-size must be a positive whole number");
        if (a["array-limit"] !== undefined && !a.array) throw new UsageError("--array-limit needs --array");
        return true;
      }) as never;
  },
  examples: [
    ["sweep-gen examples/tier3.yaml | slurm-render --profile lumi --account project_465000123 --out runs/", "216 LUMI scripts in runs/<name>/job.sbatch"],
    ["sweep-gen grid.yaml | slurm-render --profile olivia --account nn1234k --container /cluster/work/me/pytorch.sif --sample", "sample-run scripts (15 min, scope-reduced) for Olivia"],
    ["sweep-gen grid.yaml | slurm-render --profile generic --array --array-limit 20 | slurm-submit", "one array job, at most 20 tasks at once"],
    ["slurm-render runs.ndjson --profile ./mycluster.yaml --requeue-on-signal 600 --check", "checkpoint-and-requeue 10 minutes before the limit; validate scripts"],
  ],
  epilogue: "Records that cannot be rendered get an `error` field ({stage: \"slurm-render\", message, code}) and the exit code is 1.",
  run: async (args, ctx) => {
    const log = createLogger("slurm-render", { quiet: args.quiet, verbose: args.verbose });
    const inputs = (args as unknown as { _: (string | number)[] })._.map(String);
    const overrides = overridesFrom(args);
    const { render } = await import("./render.ts");
    return render({
      inputs,
      stdin: ctx.stdin,
      stdout: ctx.stdout,
      stderr: ctx.stderr,
      log,
      cwd: ctx.cwd,
      profile: args.profile,
      builtinProfiles: BUNDLED_PROFILES,
      out: args.out,
      overrides,
      sample: args.sample,
      array: args.array,
      arrayLimit: args["array-limit"],
      maxArraySize: args["max-array-size"],
      check: args.check,
      strict: args.strict,
    });
  },
});
