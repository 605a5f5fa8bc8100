import { UsageError } from "@slurmpipe/core/cli";
import { describe, expect, it } from "vitest";
import { type RenderCliArgs, optionsFromArgs, parseEnv, parseRequeue } from "../src/cli-options.ts";

const defaults: RenderCliArgs = {
  _: [],
  profile: "generic",
  out: "runs",
  directive: undefined,
  env: undefined,
  setup: undefined,
  venv: undefined,
  container: undefined,
  bind: undefined,
  force: false,
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
  remote: undefined,
  "remote-batch-mode": false,
  state: undefined,
};

describe("slurm-render optionsFromArgs", () => {
  it("--remote: a host for ssh, the control socket in --state (default .slurmpipe); a host ssh would read as an option is a usage error", () => {
    expect(optionsFromArgs({ ...defaults, remote: "me@login:2222", "remote-batch-mode": true, state: "st" }).remote).toEqual({ host: "me@login:2222", stateDir: "st", batchMode: true });
    expect(optionsFromArgs({ ...defaults, remote: "login" }).remote).toEqual({ host: "login", stateDir: ".slurmpipe", batchMode: false });
    expect(optionsFromArgs(defaults).remote).toBeUndefined();
    expect(() => optionsFromArgs({ ...defaults, remote: "-oProxyCommand=touch /tmp/x" })).toThrow(UsageError);
    expect(() => optionsFromArgs({ ...defaults, remote: "login", state: "" })).toThrow(/--state/);
  });

  it("maps the command line to the render options", () => {
    const o = optionsFromArgs({ ...defaults, _: ["a.ndjson", "-"], account: "p1", nodes: "2", mem: "32G", array: true, "array-limit": "20", quiet: true, env: "A=b=c" });
    expect(o).toMatchObject({ inputs: ["a.ndjson", "-"], profile: "generic", out: "runs", array: true, arrayLimit: 20, quiet: true, verbose: false, strict: false });
    expect(o.overrides.resources).toEqual({ account: "p1", nodes: 2, mem: "32G" });
    expect(o.overrides.env).toEqual({ A: "b=c" });
    expect(optionsFromArgs(defaults).overrides).toMatchObject({ resources: {}, env: undefined, requeueOnSignal: undefined });
  });

  it("refuses bad array numbers", () => {
    expect(() => optionsFromArgs({ ...defaults, array: true, "array-limit": "0" })).toThrow(/--array-limit: expected a positive whole number, got "0"/);
    expect(() => optionsFromArgs({ ...defaults, array: true, "array-limit": "abc" })).toThrow(/--array-limit: expected a positive whole number, got "abc"/);
    expect(() => optionsFromArgs({ ...defaults, "max-array-size": "2.5" })).toThrow(/--max-array-size: expected a positive whole number, got "2.5"/);
    expect(() => optionsFromArgs({ ...defaults, "array-limit": "5" })).toThrow(/--array-limit needs --array/);
  });

  it("a repeated flag: the last one wins, for every resource flag and every single-valued option", () => {
    const o = optionsFromArgs({
      ...defaults,
      mem: ["512M", "38G"],
      nodes: ["1", "2"],
      "gpus-per-task": ["1", "3"],
      "mem-per-gpu": ["1G", "2G"],
      profile: ["lumi", "local"],
      out: ["a", "b"],
      venv: ["/v1", "/v2"],
      "array-limit": ["3", "5"],
      array: true,
    });
    expect(o.overrides.resources).toEqual({ mem: "38G", nodes: 2, gpus_per_task: 3, mem_per_gpu: "2G" });
    expect(o).toMatchObject({ profile: "local", out: "b", arrayLimit: 5 });
    expect(o.overrides.venv).toBe("/v2");
  });

  it("repeatable options keep every value in order, one per flag", () => {
    const o = optionsFromArgs({ ...defaults, env: ["A=1", "B=2"], setup: "ulimit -c 0", directive: ["--exclusive", "--comment=x"], "sample-override": ["max_steps=1"] });
    expect(o.overrides).toMatchObject({ env: { A: "1", B: "2" }, setup: ["ulimit -c 0"], extra: ["--exclusive", "--comment=x"], sampleOverrides: ["max_steps=1"] });
  });

  it("--bind (repeatable, checked) and --force", () => {
    const o = optionsFromArgs({ ...defaults, bind: ["/cluster/projects/nn1k", "/opt/x:/usr/x"], force: true });
    expect(o.overrides).toMatchObject({ binds: ["/cluster/projects/nn1k", "/opt/x:/usr/x"], force: true });
    expect(optionsFromArgs(defaults).overrides.force).toBeUndefined();
    expect(() => optionsFromArgs({ ...defaults, bind: "" })).toThrow(new UsageError('--bind: expected a host path SRC[:DEST[:OPTS]], got ""'));
    expect(() => optionsFromArgs({ ...defaults, bind: "a\nb" })).toThrow(/--bind: expected a host path/);
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
