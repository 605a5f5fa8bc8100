import { type Argv, UsageError, withPositionals } from "@slurmpipe/core/cli";
// Types only: the library is loaded inside `run`, so `--help` and usage errors start fast.
import type { SweepGenOptions } from "./index.ts";
import { SAMPLE_METHODS } from "./sample.ts";

// Repeatable options are not yargs arrays: an array option would swallow the sweep file that
// follows it (`-p lr=0.1 sweep.yaml`); repeating the flag collects the values instead. The
// identity coerce only tells the type so (yargs keeps the value).
const repeatable = (describe: string) => ({ type: "string", coerce: (v: string | string[]): string | string[] => v, describe }) as const;
const many = (v: string | string[] | undefined): string[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);

/** The words after `--` (the command), which yargs collects in `--` with this configuration. */
function withDoubleDash<T>(y: Argv<T>): Argv<T & { "--"?: (string | number)[] }> {
  return y.parserConfiguration({ "populate--": true }) as Argv<T & { "--"?: (string | number)[] }>;
}

/** sweep-gen's options (it has none of core's common options). */
export function sweepGenOptions(y: Argv) {
  // Unknown options stay errors (exit 2); the one positional, the sweep file, is checked in optionsFromArgs.
  return withPositionals(withDoubleDash(y).strict(false).strictOptions(true))
    .positional("file", { type: "string", describe: "sweep file (YAML or JSON); see the README for the format" })
    .option("param", { alias: "p", ...repeatable("axis KEY=a,b,c | a..b | a..b:step | log_uniform(lo,hi); replaces the file's axis (repeatable)") })
    .option("name", { type: "string", describe: "run name template, e.g. '{variant}_lr{lr}_s{seed}'" })
    .option("command", { type: "string", describe: "command as shell words with {key} placeholders (or give it after --)" })
    .option("args", { choices: ["none", "hydra", "argparse"] as const, describe: "append every param: hydra key=value or argparse --key value" })
    .option("filter", repeatable("keep runs matching EXPR (repeatable, all must match): lr>0.05, variant=S-core,S-adamw, a=1 && b!=2"))
    .option("exclude", repeatable("drop runs matching EXPR (repeatable)"))
    .option("sample", { type: "string", describe: "draw N points over the distribution axes" })
    .option("seed", { type: "string", describe: "sampling seed (default 0)" })
    .option("method", { choices: SAMPLE_METHODS, describe: "sampling method (default random)" })
    .option("count", { type: "boolean", describe: "print only the number of runs" })
    .option("max-name-length", { type: "string", describe: "longest allowed run name (default 100)" })
    .option("max-runs", { type: "string", describe: "largest sweep generated, checked before any work (default 1000000)" })
    .option("dir", { type: "string", describe: "base directory: each run's dir is DIR/<name> (or a template)" })
    .option("from-dirs", repeatable("glob of existing job scripts, e.g. 'exp/*/finetune.slurm'"))
    .option("controls", { choices: ["skip", "include"] as const, default: "skip" as const, describe: "with --from-dirs: skip control runs (noted on stderr) or emit them with control: true" });
}

/** What yargs hands `run` (see sweepGenOptions). */
export type SweepGenCliArgs = ReturnType<typeof sweepGenOptions> extends Argv<infer T> ? T : never;

// Read as text (not yargs' number type, which turns "abc" into NaN), so an error quotes what was typed.
const integer = (flag: string, min: number, max: number, v: string | string[] | undefined) => {
  if (v === undefined) return undefined;
  const text = Array.isArray(v) ? String(v.at(-1)) : String(v);
  const n = /^\s*[+-]?\d+(e\d+)?\s*$/i.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${flag}: expected an integer ${min}..${max}, got ${JSON.stringify(text)}`);
  return n;
};

/** The sweep's options from the parsed command line; bad values are usage errors. */
export function optionsFromArgs(a: SweepGenCliArgs): SweepGenOptions {
  if (a._.length > 1) throw new UsageError(`one sweep file at most (got ${a._.join(", ")})`);
  const file = a._[0] === undefined ? undefined : String(a._[0]);
  const rest = (a["--"] ?? []).map(String);
  if (rest.length > 0 && a.command !== undefined) throw new UsageError("give the command either with --command or after --, not both");
  return {
    file,
    params: many(a.param),
    name: a.name,
    command: rest.length > 0 ? rest : a.command,
    args: a.args,
    filter: many(a.filter),
    exclude: many(a.exclude),
    sample: integer("sample", 1, 100_000_000, a.sample),
    seed: integer("seed", 0, 2 ** 32 - 1, a.seed),
    method: a.method,
    count: a.count,
    maxNameLength: integer("max-name-length", 8, 200, a["max-name-length"]),
    maxRuns: integer("max-runs", 1, Number.MAX_SAFE_INTEGER, a["max-runs"]),
    dir: a.dir,
    fromDirs: many(a["from-dirs"]),
    controls: a.controls,
  };
}
