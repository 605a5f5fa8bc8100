import { runCommand } from "@slurmpipe/core/cli";
// The library (zod schemas, execa, ...) is loaded inside `run`, so `--help` and usage errors start fast.
import { optionsFromArgs, sweepGenOptions } from "./cli-options.ts";

await runCommand({
  name: "sweep-gen",
  usage: "sweep-gen [SWEEP.yaml|.json] [-p KEY=VALUES]... [options] [-- COMMAND ARGS...]",
  description:
    "Turns a parameter sweep (grid, zipped axes, variants, random/Sobol/Halton samples) into one run record per line: " +
    "stable content id, readable unique name, typed params, argv command, resources. " +
    "With --from-dirs, turns existing run directories with ready job scripts into run records instead.",
  options: sweepGenOptions,
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
  run: async (args, ctx) => {
    const options = optionsFromArgs(args);
    const { sweepGen } = await import("./index.ts");
    return sweepGen(options, { stdout: ctx.stdout, log: ctx.log, cwd: ctx.cwd });
  },
});
