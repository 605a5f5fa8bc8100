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
  strict: false,
  quiet: false,
  verbose: false,
};

describe("log-parse optionsFromArgs", () => {
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
      strict: false,
    });
    const o = optionsFromArgs({ ...defaults, metric: ["acc=acc (\\S+)"], user: "me", csv: false, strict: true, "max-points": 10, "base-dir": "/w" });
    expect(o).toMatchObject({ metric: ["acc=acc (\\S+)"], user: "me", csv: false, strict: true, maxPoints: 10, baseDir: "/w" });
  });

  it("takes the positional log files first, then --files", () => {
    expect(optionsFromArgs({ ...defaults, _: ["a.out", 12345], files: ["b.err"] }).files).toEqual(["a.out", "12345", "b.err"]);
  });
});
