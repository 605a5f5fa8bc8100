import { describe, expect, it } from "vitest";
import { formatNumber, hydraValue, nameLabel } from "../src/index.ts";
import { run, sweep } from "./helpers.ts";

describe("flags-only sweeps", () => {
  it("builds a grid from -p, ranges and lists, with a command after --", async () => {
    const r = await run({ params: ["lr=0.05,0.1,0.2", "seed=0..5", "wd=1e-4..1e-2:0.005"], command: ["python", "train.py", "--lr", "{lr}"], args: "hydra" });
    expect(r.code).toBe(0);
    expect(r.records).toHaveLength(3 * 6 * 2);
    expect(r.records[0]).toMatchObject({ name: "lr0.05_seed0_wd1e-4", params: { lr: 0.05, seed: 0, wd: 0.0001 } });
    expect(r.records[1]!.params).toMatchObject({ wd: 0.0051 });
    expect(r.records[0]!.command).toEqual(["python", "train.py", "--lr", "0.05", "seed=0", "wd=1e-4"]);
    expect(r.records[0]).not.toHaveProperty("variant");
  });

  it("ranges with a step stay exact", async () => {
    const r = await run({ params: ["x=0..1:0.1"], count: false });
    expect(r.records.map((x) => (x.params as { x: number }).x)).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    expect(r.records.map((x) => x.name)).toContain("x0.3");
  });

  it("splits a string command with shell words and argparse style appends --key value", async () => {
    const r = await run({ params: ["lr=1e-3", "tag=a b"], command: "python 'my train.py' --name {name}", args: "argparse", name: "r_{lr}" });
    expect(r.records[0]!.command).toEqual(["python", "my train.py", "--name", "r_1e-3", "--lr", "1e-3", "--tag", "a b"]);
  });

  it("-p replaces the file's axis and --name the file's template", async () => {
    const r = await sweep("name: x{lr}\ngrid:\n  lr: [1, 2, 3]\n", { params: ["lr=7,8"], name: "y{lr}" });
    expect(r.records.map((x) => x.name)).toEqual(["y7", "y8"]);
  });

  it("--count prints only the number", async () => {
    const r = await run({ params: ["a=1..1000", "b=1..1000"], count: true });
    expect(r.stdout).toBe("1000000\n");
  });
});

describe("sweep files", () => {
  it("zips axes instead of crossing them", async () => {
    const r = await sweep("name: lr{lr}_w{warmup}_s{seed}\ngrid:\n  lr: [0.1, 0.2, 0.4]\n  warmup: [100, 200, 400]\n  seed: 0..1\nzip:\n  - [lr, warmup]\n");
    expect(r.code).toBe(0);
    expect(r.records.map((x) => x.name)).toEqual(["lr0.1_w100_s0", "lr0.1_w100_s1", "lr0.2_w200_s0", "lr0.2_w200_s1", "lr0.4_w400_s0", "lr0.4_w400_s1"]);
  });

  it("accepts JSON sweep files", async () => {
    const r = await sweep('{"command": ["run"], "args": "hydra", "grid": {"lr": [0.1, 1e-3]}}', {}, "s.json");
    expect(r.records.map((x) => x.command)).toEqual([
      ["run", "lr=0.1"],
      ["run", "lr=1e-3"],
    ]);
  });

  it("dir templates, groups, priorities and outputs", async () => {
    const r = await sweep(
      'name: "{opt}_{seed}"\ngroup: "{opt}"\ndir: "out/{opt}/{name}"\npriority: 5\noutputs: [metrics.csv]\ngrid:\n  opt: [sgd, adam]\n  seed: [0]\n',
    );
    expect(r.records[1]).toMatchObject({ name: "adam_0", group: "adam", dir: "out/adam/adam_0", priority: 5, outputs: ["metrics.csv"] });
  });

  it("makes string values safe in names and quotes awkward strings for Hydra", async () => {
    const r = await sweep('command: [t]\nargs: hydra\nname: "{data}_{s}"\ngrid:\n  s: [0]\n  data: ["/data/cifar 10", "it\'s", "1e-4"]\n');
    expect(r.code).toBe(0);
    expect(r.records.map((x) => x.name)).toEqual(["data-cifar-10_0", "it-s_0", "1e-4_0"]);
    expect(r.records.map((x) => (x.command as string[])[1])).toEqual(["data='/data/cifar 10'", "data='it\\'s'", "data='1e-4'"]);
  });

  it("checks names by enumeration when a proof is impossible, and accepts unique ones", async () => {
    // {a}{b} with no separator cannot be proven unique; enumeration finds 11+1 = 1+11.
    const dup = await sweep('name: "{a}{b}"\ngrid:\n  a: [1, 11]\n  b: [1, 11]\n');
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('duplicate run name "111"');
    const ok = await sweep('name: "{a}{b}"\ngrid:\n  a: [1, 2]\n  b: [3, 4]\n');
    expect(ok.code).toBe(0);
    expect(ok.records).toHaveLength(4);
  });

  it("{index} makes names unique", async () => {
    const r = await sweep('name: "trial{index}"\ngrid:\n  lr: {uniform: [0, 1]}\nsample: {n: 12}\n');
    expect(r.records.map((x) => x.name)).toEqual(Array.from({ length: 12 }, (_, i) => `trial${i}`));
  });

  it("filters compare numbers numerically and handle missing keys", async () => {
    const text = "grid:\n  wd: [1e-4, 1e-3]\nvariants:\n  a: {params: {clip: 1.0}}\n  b: {}\n";
    expect((await sweep(text, { filter: ["wd=0.0001"] })).records).toHaveLength(2);
    expect((await sweep(text, { filter: ["clip=1"] })).records.map((x) => x.variant)).toEqual(["a", "a"]);
    expect((await sweep(text, { filter: ["clip!=1"] })).records.map((x) => x.variant)).toEqual(["b", "b"]);
    expect((await sweep(text, { exclude: ["variant=a && wd<0.001"] })).records).toHaveLength(3);
    expect((await sweep(text, { filter: ["name=b_wd1e-3"] })).records).toHaveLength(1);
  });
});

describe("sampling", () => {
  const text = "name: t{index}\ngrid:\n  lr: {log_uniform: [1e-5, 1e-1]}\n  wd: {uniform: [0, 0.1], digits: 3}\n  layers: {int_uniform: [2, 8]}\n  opt: {choice: [sgd, adam]}\n";

  for (const method of ["random", "sobol", "halton"] as const) {
    it(`${method}: deterministic per seed, within range, rounded`, async () => {
      const a = await sweep(text, { sample: 64, seed: 3, method });
      const b = await sweep(text, { sample: 64, seed: 3, method });
      const c = await sweep(text, { sample: 64, seed: 4, method });
      expect(a.code).toBe(0);
      expect(a.stdout).toBe(b.stdout);
      expect(a.stdout).not.toBe(c.stdout);
      const ps = a.records.map((x) => x.params as { lr: number; wd: number; layers: number; opt: string });
      for (const p of ps) {
        expect(p.lr).toBeGreaterThanOrEqual(1e-5);
        expect(p.lr).toBeLessThanOrEqual(1e-1);
        expect(Number(p.lr.toPrecision(4))).toBe(p.lr);
        expect(p.wd).toBeGreaterThanOrEqual(0);
        expect(p.wd).toBeLessThanOrEqual(0.1);
        expect(Number(p.wd.toPrecision(3))).toBe(p.wd);
        expect(Number.isInteger(p.layers) && p.layers >= 2 && p.layers <= 8).toBe(true);
        expect(["sgd", "adam"]).toContain(p.opt);
      }
      // Spread: every decade of the log range and every integer are hit in 64 points.
      expect(new Set(ps.map((p) => Math.floor(Math.log10(p.lr)))).size).toBe(4);
      expect(new Set(ps.map((p) => p.layers)).size).toBe(7);
      expect(new Set(ps.map((p) => p.opt)).size).toBe(2);
    });
  }

  it("sobol balances a power-of-two sample exactly (one point per 1/n stratum in each dimension)", async () => {
    const r = await sweep("name: t{index}\ngrid:\n  x: {uniform: [0, 1], digits: 15}\n  y: {uniform: [0, 1], digits: 15}\n", { sample: 32, method: "sobol", seed: 11 });
    for (const key of ["x", "y"]) {
      const strata = r.records.map((x) => Math.floor((x.params as Record<string, number>)[key]! * 32));
      expect(new Set(strata).size).toBe(32);
    }
  });

  it("samples from -p distributions without a file", async () => {
    const r = await run({ params: ["lr=log_uniform(1e-5,1e-1)", "seed=0..1"], sample: 8, method: "halton", seed: 5 });
    expect(r.code).toBe(0);
    expect(r.records).toHaveLength(16);
    expect(r.records[0]!.name).toMatch(/^lr[0-9.e-]+_seed0$/);
  });

  it("reports names that collide after rounding sampled values", async () => {
    const r = await sweep('name: "x{x}"\ngrid:\n  x: {uniform: [0, 1], digits: 1}\nsample: {n: 50}\n');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/sweep\.yaml:1: field "name": duplicate run name "x0\.\d"/);
  });

  it("checks choice values used in names", async () => {
    const r = await sweep('name: "{opt}_{index}"\ngrid:\n  opt: {choice: [sgd, "???"]}\nsample: {n: 4}\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('sweep.yaml:3: field "grid.opt.choice[1]": value ??? cannot be made safe');
  });

  it("crosses sample points with grid axes and variants, the same points for every variant", async () => {
    const r = await sweep('name: "{variant}_lr{lr}_s{seed}"\ngrid:\n  lr: {log_uniform: [1e-4, 1e-1]}\n  seed: 0..1\nvariants:\n  a: {}\n  b: {}\nsample: {n: 3, seed: 9}\n');
    expect(r.code).toBe(0);
    expect(r.records).toHaveLength(2 * 3 * 2);
    const lrs = (v: string) => r.records.filter((x) => x.variant === v).map((x) => (x.params as { lr: number }).lr);
    expect(lrs("a")).toEqual(lrs("b"));
  });
});

describe("value formatting", () => {
  it("formats numbers stably and readably", () => {
    expect([0.1, 0.0001, 0.01, 1e-7, 1.5e-5, 2000, 0.05, 1e21, -0.001, 123.456].map(formatNumber)).toEqual([
      "0.1",
      "1e-4",
      "0.01",
      "1e-7",
      "1.5e-5",
      "2000",
      "0.05",
      "1e21",
      "-1e-3",
      "123.456",
    ]);
  });
  it("labels values for names", () => {
    expect(nameLabel([0.9, 0.999])).toBe("0.9-0.999");
    expect(nameLabel("$(rm -rf /)")).toBe("rm--rf");
    expect(nameLabel("!!!")).toBeUndefined();
    expect(nameLabel({ a: 1 })).toBeUndefined();
    expect(nameLabel(true)).toBe("true");
  });
  it("renders Hydra values", () => {
    expect(hydraValue([0.9, 0.999])).toBe("[0.9,0.999]");
    expect(hydraValue({ b: "x y", a: null })).toBe("{a:null,b:'x y'}");
    expect(hydraValue("true")).toBe("'true'");
    expect(hydraValue("C:\\x\\")).toBe("'C:\\x\\\\'");
    expect(hydraValue("plain/path.txt")).toBe("plain/path.txt");
  });
});
