import { UsageError } from "@slurmpipe/core/cli";
import { describe, expect, it } from "vitest";
import { type RenderCliArgs, optionsFromArgs, parseEnv, parseRequeue } from "../src/cli-options.ts";

const defaults: RenderCliArgs = {
  _: [],
  profile: "generic",
  out: "runs",
  account: undefined,
  partition: undefined,
  qos: undefined,
  reservation: undefined,
  nodes: undefined,
  "ntasks-per-node": undefined,
  "gpus-per-node": undefined,
  "cpus-per-task": undefined,
  mem: undefined,
  time: undefined,
  constraint: undefined,
  exclude: undefined,
  directive: undefined,
  env: undefined,
  setup: undefined,
  venv: undefined,
  container: undefined,
  sample: false,
  "sample-override": undefined,
  "requeue-on-signal": undefined,
  array: false,
  "array-limit": undefined,
  "max-array-size": undefined,
  check: false,
  strict: false,
  quiet: false,
  verbose: false,
};

describe("slurm-render optionsFromArgs", () => {
  it("maps the command line to the render options", () => {
    const o = optionsFromArgs({ ...defaults, _: ["a.ndjson", "-"], account: "p1", nodes: 2, mem: "32G", array: true, "array-limit": 20, quiet: true, env: ["A=b=c"] });
    expect(o).toMatchObject({ inputs: ["a.ndjson", "-"], profile: "generic", out: "runs", array: true, arrayLimit: 20, quiet: true, verbose: false, strict: false });
    expect(o.overrides.resources).toEqual({ account: "p1", nodes: 2, mem: "32G" });
    expect(o.overrides.env).toEqual({ A: "b=c" });
    expect(optionsFromArgs(defaults).overrides).toMatchObject({ resources: {}, env: undefined, requeueOnSignal: undefined });
  });

  it("refuses bad numbers", () => {
    expect(() => optionsFromArgs({ ...defaults, nodes: 1.5 })).toThrow(new UsageError("--nodes: expected a whole number"));
    expect(() => optionsFromArgs({ ...defaults, "gpus-per-node": -1 })).toThrow(UsageError);
    expect(() => optionsFromArgs({ ...defaults, array: true, "array-limit": 0 })).toThrow(/--array-limit must be a positive whole number/);
    expect(() => optionsFromArgs({ ...defaults, "max-array-size": 2.5 })).toThrow(/--max-array-size must be a positive whole number/);
    expect(() => optionsFromArgs({ ...defaults, "array-limit": 5 })).toThrow(/--array-limit needs --array/);
  });

  it("parses --env and --requeue-on-signal", () => {
    expect(parseEnv([])).toBeUndefined();
    expect(() => parseEnv(["1A=x"])).toThrow(UsageError);
    expect(parseRequeue(undefined)).toBeUndefined();
    expect(parseRequeue("")).toBe(true);
    expect(parseRequeue("off")).toBe(false);
    expect(parseRequeue("600")).toBe(600);
    expect(() => parseRequeue("70000")).toThrow(/--requeue-on-signal/);
  });
});
