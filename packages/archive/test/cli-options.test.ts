import { describe, expect, it } from "vitest";
import { type ArchiveCliArgs, optionsFromArgs } from "../src/cli-options.ts";

const defaults: ArchiveCliArgs = {
  _: [],
  out: "archives",
  format: undefined,
  "compress-over": undefined,
  "outputs-only": false,
  exclude: [],
  "allow-missing": false,
  "check-only": false,
  incremental: false,
  rehash: false,
  "verify-after": false,
  "prune-sources": false,
  "outlier-ratio": 0.5,
  dataset: true,
  only: [],
  force: false,
  strict: false,
  name: undefined,
  level: undefined,
  now: undefined,
  "log-base": undefined,
  "incremental-from": undefined,
  verify: undefined,
  restore: undefined,
  to: undefined,
  state: undefined,
  remote: undefined,
  "remote-batch-mode": false,
  fetch: undefined,
};

describe("archive optionsFromArgs", () => {
  it("maps every option to the library's name; positional arguments are the inputs", () => {
    const o = optionsFromArgs({
      ...defaults,
      _: ["runs.ndjson", 42],
      name: "lr",
      level: 3,
      now: "0",
      "log-base": "/x",
      "incremental-from": "a",
      "check-only": true,
      "outputs-only": true,
      "allow-missing": true,
      "prune-sources": true,
      "verify-after": true,
      "outlier-ratio": 0.25,
      "compress-over": "1G",
      format: "dir",
      strict: true,
    });
    expect(o).toMatchObject({
      inputs: ["runs.ndjson", "42"],
      name: "lr",
      level: 3,
      now: "0",
      logBase: "/x",
      incrementalFrom: "a",
      checkOnly: true,
      outputsOnly: true,
      allowMissing: true,
      pruneSources: true,
      verifyAfter: true,
      outlierRatio: 0.25,
      compressOver: "1G",
      strict: true,
      dataset: true,
      format: "dir",
      out: "archives",
    });
  });

  it("--remote and --fetch: the host, the control socket's state directory, the fetch directory", () => {
    const o = optionsFromArgs({ ...defaults, remote: "u@h:2222", "remote-batch-mode": true, fetch: "here", state: "st" });
    expect(o.remote).toEqual({ host: "u@h:2222", stateDir: "st", batchMode: true });
    expect(o.fetch).toBe("here");
    expect(optionsFromArgs({ ...defaults, remote: "u@h" }).remote?.stateDir).toBe(".slurmpipe");
    expect(() => optionsFromArgs({ ...defaults, remote: "-oProxyCommand=x" })).toThrow(/cannot start with '-'/);
    expect(optionsFromArgs(defaults).remote).toBeUndefined();
  });

  it("leaves unset options undefined (the library applies its defaults)", () => {
    const o = optionsFromArgs(defaults);
    expect(o.inputs).toEqual([]);
    expect(o.level).toBeUndefined();
    expect(o.name).toBeUndefined();
    expect(o.verify).toBeUndefined();
    expect(o.restore).toBeUndefined();
    expect(o.to).toBeUndefined();
  });

  it("reads the default state directory when it exists; a --state given must exist", () => {
    expect(optionsFromArgs(defaults)).toMatchObject({ state: ".slurmpipe", stateGiven: false });
    expect(optionsFromArgs({ ...defaults, state: "st" })).toMatchObject({ state: "st", stateGiven: true });
  });
});
