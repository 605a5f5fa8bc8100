import { describe, expect, it } from "vitest";
import { type SummaryCliArgs, optionsFromArgs } from "../src/cli-options.ts";

const defaults: SummaryCliArgs = {
  files: undefined,
  output: undefined,
  expected: undefined,
  update: undefined,
  sample: false,
  "full-steps": undefined,
  margin: undefined,
  plots: undefined,
  "color-by": undefined,
  "log-y": "auto",
  now: undefined,
  title: undefined,
  profile: undefined,
  strict: false,
  quiet: false,
};

describe("summary-md optionsFromArgs", () => {
  it("passes only the options given", () => {
    expect(optionsFromArgs(defaults)).toEqual({ options: { inputs: [], sample: false, strict: false, logY: "auto" }, quiet: false });
  });

  it("maps every option to the library's name", () => {
    const { options, quiet } = optionsFromArgs({
      ...defaults,
      files: ["a.ndjson", "-"],
      output: "S.md",
      expected: "runs.ndjson",
      sample: true,
      "full-steps": 1000,
      margin: 1.5,
      plots: "p",
      "color-by": "lr",
      "log-y": "on",
      now: "0",
      title: "T",
      profile: "lumi",
      strict: true,
      quiet: true,
    });
    expect(quiet).toBe(true);
    expect(options).toEqual({
      inputs: ["a.ndjson", "-"],
      output: "S.md",
      expected: "runs.ndjson",
      sample: true,
      fullSteps: 1000,
      margin: 1.5,
      plots: "p",
      colorBy: "lr",
      logY: "on",
      now: "0",
      title: "T",
      profile: "lumi",
      strict: true,
    });
    expect(optionsFromArgs({ ...defaults, update: "x.md" }).options.update).toBe("x.md");
  });

  it("--no-plots is no plots; --plots without a directory is the mode's default", () => {
    expect(optionsFromArgs({ ...defaults, plots: false }).options.plots).toBe(false);
    expect(optionsFromArgs({ ...defaults, plots: "" }).options.plots).toBe("");
  });
});
