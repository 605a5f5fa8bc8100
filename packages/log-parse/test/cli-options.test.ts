import { describe, expect, it } from "vitest";
import { type LogParseCliArgs, optionsFromArgs } from "../src/cli-options.ts";

const defaults: LogParseCliArgs = {
  _: [],
  files: undefined,
  metric: undefined,
  "max-points": 500,
  "base-dir": ".",
  user: undefined,
  csv: true,
  state: undefined,
  "min-step-seconds": 0.1,
  "max-line-bytes": 1048576,
  jobs: 1,
  strict: false,
  quiet: false,
  verbose: false,
  remote: undefined,
  "remote-batch-mode": false,
};

describe("log-parse optionsFromArgs", () => {
  it("--remote: the host, its control socket in --state (default .slurmpipe); an option-looking host is a usage error", () => {
    expect(optionsFromArgs({ ...defaults, remote: "me@login:2222", state: "st", "remote-batch-mode": true }).remote).toEqual({ host: "me@login:2222", stateDir: "st", batchMode: true });
    expect(optionsFromArgs({ ...defaults, remote: "login" }).remote).toEqual({ host: "login", stateDir: ".slurmpipe", batchMode: false });
    expect(() => optionsFromArgs({ ...defaults, remote: "-oProxyCommand=x" })).toThrow(/--remote/);
  });

  it("maps every option to the library's name", () => {
    expect(optionsFromArgs(defaults)).toEqual({
      files: [],
      metric: undefined,
      maxPoints: 500,
      baseDir: ".",
      user: undefined,
      csv: true,
      minStepSeconds: 0.1,
      maxLineBytes: 1048576,
      jobs: 1,
      strict: false,
    });
    const o = optionsFromArgs({ ...defaults, metric: ["acc=acc (\\S+)"], user: "me", csv: false, strict: true, "max-points": 10, "base-dir": "/w" });
    expect(o).toMatchObject({ metric: ["acc=acc (\\S+)"], user: "me", csv: false, strict: true, maxPoints: 10, baseDir: "/w" });
  });

  it("takes the positional log files first, then --files", () => {
    expect(optionsFromArgs({ ...defaults, _: ["a.out", 12345], files: ["b.err"] }).files).toEqual(["a.out", "12345", "b.err"]);
  });
});
