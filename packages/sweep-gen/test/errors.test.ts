import { UsageError } from "@slurmpipe/core";
import { describe, expect, it } from "vitest";
import { run, sweep } from "./helpers.ts";

/** Runs a bad sweep and returns its stderr; asserts exit 1 and no output. */
async function bad(text: string, opts = {}): Promise<string> {
  const r = await sweep(text, opts);
  expect(r.stdout).toBe("");
  expect(r.code).toBe(1);
  return r.stderr;
}

describe("sweep file errors name the file, the key path and the line", () => {
  it("unknown top-level key", async () => {
    const err = await bad("grid:\n  lr: [1, 2]\ngird2: 3\n");
    expect(err).toContain('sweep.yaml:3: field "gird2": unknown key "gird2"');
  });

  it("unknown key inside a variant, with a suggestion", async () => {
    const err = await bad("grid:\n  lr: [1, 2]\nvariants:\n  a:\n    param: {x: 1}\n");
    expect(err).toContain('sweep.yaml:5: field "variants.a.param": unknown key "param" (did you mean "params"?)');
  });

  it("empty axis", async () => {
    const err = await bad("grid:\n  lr: []\n  seed: 0..2\n");
    expect(err).toContain('sweep.yaml:2: field "grid.lr": empty axis');
  });

  it("bad ranges", async () => {
    expect(await bad("grid:\n  seed: 5..1\n")).toContain('sweep.yaml:2: field "grid.seed": range "5..1": the start is greater than the end');
    expect(await bad("grid:\n  lr: 0.1..0.5\n")).toContain('sweep.yaml:2: field "grid.lr": range "0.1..0.5" has non-integer ends');
    expect(await bad("grid:\n  lr: {log_uniform: [0, 1]}\nsample: {n: 4}\n")).toContain('sweep.yaml:2: field "grid.lr.log_uniform": log_uniform needs low > 0');
    expect(await bad("grid:\n  lr: {uniform: [2, 1]}\nsample: {n: 4}\n")).toContain("low (2) must be less than high (1)");
  });

  it("duplicate names after templating, naming the template's line", async () => {
    const err = await bad("name: run_{lr}\ngrid:\n  lr: [1, 2]\n  seed: 0..1\n");
    expect(err).toMatch(/sweep\.yaml:1: field "name": duplicate run name "run_1"/);
  });

  it("a value that cannot be made safe, at the value's line", async () => {
    const err = await bad('name: "{tag}_{seed}"\ngrid:\n  seed: [0, 1]\n  tag:\n    - ok\n    - "日本語"\n');
    expect(err).toContain('sweep.yaml:6: field "grid.tag[1]": value 日本語 cannot be made safe for a run name');
  });

  it("an object used in a name", async () => {
    const err = await bad('name: "r_{opt}"\nparams:\n  opt: {name: adam, lr: 1}\ngrid:\n  seed: [0]\n');
    expect(err).toContain('sweep.yaml:3: field "params.opt": value {"lr":1,"name":"adam"} cannot be made safe');
  });

  it("names over the length limit", async () => {
    const err = await bad(`name: "${"x".repeat(98)}_{seed}"\ngrid:\n  seed: 0..20\n`);
    expect(err).toMatch(/sweep\.yaml:1: field "name": name "x+_10" is 101 characters, over the limit of 100/);
    const ok = await sweep(`name: "${"x".repeat(98)}_{seed}"\ngrid:\n  seed: 0..20\n`, { maxNameLength: 101 });
    expect(ok.code).toBe(0);
  }, 10_000);

  it("unknown placeholders and filter keys", async () => {
    expect(await bad('name: "{lrr}"\ngrid:\n  lr: [1, 2]\n')).toContain('sweep.yaml:1: field "name": {lrr} in the name is not a parameter');
    expect(await bad("grid:\n  lr: [1, 2]\nfilter: [lrr>1]\n")).toContain('sweep.yaml:3: field "filter[0]": filter key "lrr" is not a parameter');
    expect(await bad("grid:\n  lr: [1, 2]\nfilter: [lr>>1]\n")).toContain('sweep.yaml:3: field "filter[0]"');
  });

  it("a variant placeholder without variants, a parameter only some variants set", async () => {
    expect(await bad('name: "{variant}_{lr}"\ngrid:\n  lr: [1, 2]\n')).toContain("{variant} is used in the name but the sweep has no variants");
    const err = await bad('name: "{variant}_{clip}_{lr}"\ngrid:\n  lr: [1, 2]\nvariants:\n  a: {params: {clip: 1}}\n  b: {}\n');
    expect(err).toContain('sweep.yaml:1: field "name": {clip} in the name is not a parameter of variant b');
  });

  it("a key both fixed and an axis, a variant overriding an axis", async () => {
    expect(await bad("params:\n  lr: 1\ngrid:\n  lr: [1, 2]\n")).toContain('sweep.yaml:4: field "grid.lr": "lr" is both a fixed parameter');
    expect(await bad("grid:\n  lr: [1, 2]\nvariants:\n  a:\n    params: {lr: 3}\n")).toContain('sweep.yaml:5: field "variants.a.params.lr": variant a sets "lr", which is also a grid axis');
  });

  it("duplicate values in an axis, and duplicate keys", async () => {
    expect(await bad("grid:\n  wd: [1e-4, 0.0001]\n")).toContain('sweep.yaml:2: field "grid.wd[1]": duplicate value 0.0001 in axis "wd"');
    expect(await bad("grid:\n  lr: [1]\n  lr: [2]\n")).toMatch(/sweep\.yaml:3: .*unique/);
  });

  it("zip groups of different lengths or unknown axes", async () => {
    expect(await bad("grid:\n  lr: [1, 2]\n  warmup: [10, 20, 30]\nzip:\n  - [lr, warmup]\n")).toContain('sweep.yaml:5: field "zip[0]": zipped axes must have the same length (lr: 2, warmup: 3)');
    expect(await bad("grid:\n  lr: [1, 2]\nzip: [[lr, nope]]\n")).toContain('field "zip[0]": zip names "nope", which is not a grid axis');
  });

  it("distributions without a sample size, sampling without distributions", async () => {
    expect(await bad("grid:\n  lr: {log_uniform: [1e-5, 1e-1]}\n")).toContain('sweep.yaml:2: field "grid.lr": "lr" is a distribution: say how many points');
    expect(await bad("grid:\n  lr: [1, 2]\nsample: {n: 3}\n")).toContain('sweep.yaml:3: field "sample": sampling needs at least one distribution axis');
  });

  it("bad resources, with core's schema and Slurm formats", async () => {
    const err = await bad("grid:\n  lr: [1]\nresources:\n  nodes: two\n  time: 2 hours\n  mem: lots\n");
    expect(err).toContain('sweep.yaml:4: field "resources.nodes"');
    const err2 = await bad("grid:\n  lr: [1]\nresources:\n  time: 2 hours\n  mem: lots\n");
    expect(err2).toContain('sweep.yaml:4: field "resources.time": not a Slurm time limit');
    expect(err2).toContain('sweep.yaml:5: field "resources.mem": not a Slurm memory size');
  });

  it("bad command strings and templates", async () => {
    expect(await bad("command: \"python 'train.py\"\ngrid:\n  lr: [1]\n")).toContain('sweep.yaml:1: field "command": cannot split into words');
    expect(await bad("command: [python, 'train.py', '--lr={lr']\ngrid:\n  lr: [1]\n")).toContain('sweep.yaml:1: field "command[2]": unclosed "{"');
  });

  it("YAML syntax errors and non-mapping files", async () => {
    expect(await bad("grid:\n  lr: [1, 2\n")).toMatch(/sweep\.yaml:\d+: /);
    expect(await bad("- a\n- b\n")).toContain("sweep.yaml:1: expected a mapping");
    expect(await bad("")).toContain("sweep.yaml:1: the sweep file is empty");
  });

  it("JSON sweep files get line numbers too", async () => {
    const r = await run({ file: "s.json" }, { "s.json": '{\n  "grid": {\n    "lr": [1, 2]\n  },\n  "bogus": 1\n}\n' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('s.json:5: field "bogus": unknown key "bogus"');
  });

  it("reports every problem at once", async () => {
    const err = await bad("grid:\n  lr: []\n  wd: 3..1\nextra: 1\n");
    expect(err.trim().split("\n")).toHaveLength(3);
  });
});

describe("flag errors are usage errors (exit 2)", () => {
  const usage = (opts: object) => expect(run(opts)).rejects.toBeInstanceOf(UsageError);
  it("rejects bad -p, filters and templates", async () => {
    await usage({ params: ["lr"] });
    await usage({ params: ["lr="] });
    await usage({ params: ["lr=1,,2"] });
    await usage({ params: ["seed=5..1"] });
    await usage({ params: ["lr=log_uniform(0,1)"] });
    await usage({ params: ["lr=1,2"], filter: ["lr>>1"] });
    await usage({ params: ["lr=1,2"], filter: ["nope=1"] });
    await usage({ params: ["lr=1,2"], name: "{lr" });
    await usage({ params: ["lr=1,2"], command: "python 'x" });
    await usage({});
    await usage({ file: "missing.yaml" });
  });
});
