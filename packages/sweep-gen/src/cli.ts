import { UsageError, runCommand } from "@slurmpipe/core/cli";
// The library (zod schemas, execa, ...) is loaded inside `run`, so `--help` and usage errors start fast.
import { SAMPLE_METHODS, type SampleMethod } from "./sample.ts";

// Repeatable options are not yargs arrays: an array option would swallow the sweep file that
// follows it (`-p lr=0.1 sweep.yaml`); repeating the flag collects the values instead.
type Many = string | string[] | undefined;
const many = (v: Many): string[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);

interface Args {
  file?: string;
  param?: Many;
  name?: string;
  command?: string;
  args?: "none" | "hydra" | "argparse";
  filter?: Many;
  exclude?: Many;
  sample?: number;
  seed?: number;
  method?: SampleMethod;
  count?: boolean;
  "max-name-length"?: number;
  "max-runs"?: number;
  dir?: string;
  "from-dirs"?: Many;
  controls?: "skip" | "include";
  "--"?: (string | number)[];
  _: (string | number)[];
}

const integer = (flag: string, min: number, max: number) => (v: unknown) => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${flag}: expected an integer ${min}..${max}, got ${JSON.stringify(v)}`);
  return n;
};

await runCommand<Args>({
  name: "sweep-gen",
  usage: "sweep-gen [SWEEP.yaml|.json] [-p KEY=VALUES]... [options] [-- COMMAND ARGS...]",
  description:
    "Turns a parameter sweep (grid, zipped axes, variants, random/Sobol/Halton samples) into one run record per line: " +
    "stable content id, readable unique name, typed params, argv command, resources. " +
    "With --from-dirs, turns existing run directories with ready job scripts into run records instead.",
  options: (y) =>
    y
      .parserConfiguration({ "populate--": true })
      // Unknown options stay errors (exit 2); the one positional, the sweep file, is checked below.
      .strict(false)
      .strictOptions(true)
      .positional("file", { type: "string", describe: "sweep file (YAML or JSON); see the README for the format" })
      .option("param", { alias: "p", type: "string", describe: "axis KEY=a,b,c | a..b | a..b:step | log_uniform(lo,hi); replaces the file's axis (repeatable)" })
      .option("name", { type: "string", describe: "run name template, e.g. '{variant}_lr{lr}_s{seed}'" })
      .option("command", { type: "string", describe: "command as shell words with {key} placeholders (or give it after --)" })
      .option("args", { choices: ["none", "hydra", "argparse"] as const, describe: "append every param: hydra key=value or argparse --key value" })
      .option("filter", { type: "string", describe: "keep runs matching EXPR (repeatable, all must match): lr>0.05, variant=S-core,S-adamw, a=1 && b!=2" })
      .option("exclude", { type: "string", describe: "drop runs matching EXPR (repeatable)" })
      .option("sample", { type: "number", describe: "draw N points over the distribution axes" })
      .option("seed", { type: "number", describe: "sampling seed (default 0)" })
      .option("method", { choices: SAMPLE_METHODS, describe: "sampling method (default random)" })
      .option("count", { type: "boolean", describe: "print only the number of runs" })
      .option("max-name-length", { type: "number", describe: "longest allowed run name (default 100)" })
      .option("max-runs", { type: "number", describe: "largest sweep generated, checked before any work (default 1000000)" })
      .option("dir", { type: "string", describe: "base directory: each run's dir is DIR/<name> (or a template)" })
      .option("from-dirs", { type: "string", describe: "glob of existing job scripts, e.g. 'exp/*/finetune.slurm'" })
      .option("controls", { choices: ["skip", "include"] as const, default: "skip" as const, describe: "with --from-dirs: skip control runs (noted on stderr) or emit them with control: true" })
      .check((a) => {
        if (a._.length > 1) throw new UsageError(`one sweep file at most (got ${a._.join(", ")})`);
        return true;
      }) as never,
  examples: [
    ["sweep-gen examples/tier3.yaml --count", "the Tier-3 sweep: prints 216"],
    ["sweep-gen examples/tier3.yaml --filter variant=S-core --filter 'lr>0.05' | head -1", "a subset"],
    ["sweep-gen -p lr=0.05,0.1,0.2 -p seed=0..5 --args hydra -- python train.py", "a sweep from flags only"],
    ["sweep-gen sweep.yaml --sample 32 --method sobol --seed 7", "32 Sobol points over the distribution axes"],
    ["sweep-gen --from-dirs 'exp/*/finetune.slurm' | slurm-submit", "submit existing torchtune run directories"],
  ],
  epilogue:
    "Placeholders in names, groups, dirs and commands: {param}, {variant}, {index}; {name} also in dir and command.\n" +
    "A bad sweep file is reported as FILE:LINE: field \"key.path\": message, and nothing is written.",
  run: async (a, ctx) => {
    const file = a._[0] === undefined ? undefined : String(a._[0]);
    const rest = (a["--"] ?? []).map(String);
    if (rest.length > 0 && a.command !== undefined) throw new UsageError("give the command either with --command or after --, not both");
    const { sweepGen } = await import("./index.ts");
    return sweepGen(
      {
        file,
        params: many(a.param),
        name: a.name,
        command: rest.length > 0 ? rest : a.command,
        args: a.args,
        filter: many(a.filter),
        exclude: many(a.exclude),
        sample: integer("sample", 1, 100_000_000)(a.sample),
        seed: integer("seed", 0, 2 ** 32 - 1)(a.seed),
        method: a.method,
        count: a.count,
        maxNameLength: integer("max-name-length", 8, 200)(a["max-name-length"]),
        maxRuns: integer("max-runs", 1, Number.MAX_SAFE_INTEGER)(a["max-runs"]),
        dir: a.dir,
        fromDirs: many(a["from-dirs"]),
        controls: a.controls,
      },
      { stdout: ctx.stdout, log: ctx.log, cwd: ctx.cwd },
    );
  },
});
