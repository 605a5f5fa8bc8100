import { UsageError } from "@slurmpipe/core/cli";
import { describe, expect, it } from "vitest";
import { type SweepGenCliArgs, optionsFromArgs } from "../src/cli-options.ts";

const defaults: SweepGenCliArgs = {
  _: [],
  file: undefined,
  param: undefined,
  name: undefined,
  command: undefined,
  args: undefined,
  filter: undefined,
  exclude: undefined,
  sample: undefined,
  seed: undefined,
  method: undefined,
  count: undefined,
  "max-name-length": undefined,
  "max-runs": undefined,
  dir: undefined,
  "from-dirs": undefined,
  controls: "skip",
};

describe("sweep-gen optionsFromArgs", () => {
  it("takes the sweep file from the positional argument and the command from after --", () => {
    const o = optionsFromArgs({ ...defaults, _: ["sweep.yaml"], "--": ["python", "train.py", 3] });
    expect(o).toMatchObject({ file: "sweep.yaml", command: ["python", "train.py", "3"], controls: "skip" });
    expect(optionsFromArgs({ ...defaults, command: "python t.py {lr}" }).command).toBe("python t.py {lr}");
    expect(optionsFromArgs(defaults).file).toBeUndefined();
  });

  it("collects a repeatable option given once or many times", () => {
    const o = optionsFromArgs({ ...defaults, param: "lr=0.1,0.2", filter: ["lr>0.05", "seed=0"], "from-dirs": "exp/*/x.slurm" });
    expect(o).toMatchObject({ params: ["lr=0.1,0.2"], filter: ["lr>0.05", "seed=0"], fromDirs: ["exp/*/x.slurm"], exclude: undefined });
  });

  it("checks the numbers", () => {
    expect(optionsFromArgs({ ...defaults, sample: "32", seed: "7", "max-name-length": "8", "max-runs": "1e6" })).toMatchObject({ sample: 32, seed: 7, maxNameLength: 8, maxRuns: 1e6 });
    expect(() => optionsFromArgs({ ...defaults, sample: "0" })).toThrow(new UsageError('--sample: expected an integer 1..100000000, got "0"'));
    // Quoted as typed: yargs' number type made this NaN, and the message said "got null".
    expect(() => optionsFromArgs({ ...defaults, sample: "abc" })).toThrow(new UsageError('--sample: expected an integer 1..100000000, got "abc"'));
    expect(() => optionsFromArgs({ ...defaults, seed: "1.5" })).toThrow(/--seed: expected an integer/);
    expect(() => optionsFromArgs({ ...defaults, "max-name-length": "201" })).toThrow(/--max-name-length/);
    expect(() => optionsFromArgs({ ...defaults, "max-runs": "0" })).toThrow(/--max-runs/);
  });

  it("refuses two sweep files, and a command given twice", () => {
    expect(() => optionsFromArgs({ ...defaults, _: ["a.yaml", "b.yaml"] })).toThrow(new UsageError("one sweep file at most (got a.yaml, b.yaml)"));
    expect(() => optionsFromArgs({ ...defaults, command: "x", "--": ["y"] })).toThrow(/either with --command or after --/);
  });
});
