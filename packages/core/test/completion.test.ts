import yargs from "yargs";
import { describe, expect, it } from "vitest";
import { completionReply, flagsOf } from "../src/cli/completion.ts";

const parser = () =>
  yargs([])
    .help()
    .alias("h", "help")
    .positional("file", { type: "string", describe: "the input" })
    .option("backend", { choices: ["slurm", "local"], describe: "where jobs run" })
    .option("out", { alias: "o", type: "string", describe: "output directory\nsecond line" })
    .option("once", { type: "boolean", describe: "one cycle" })
    .option("verbose", { alias: "v", type: "count" })
    .option("secret", { hidden: true });

const reply = (words: string[], shell?: string) => completionReply(flagsOf(parser()), words, shell).trimEnd().split("\n");

describe("flagsOf", () => {
  it("one entry per option with all its names as typed, no positionals or hidden options", () => {
    const flags = flagsOf(parser());
    expect(flags.map((f) => f.names)).toEqual([["--version"], ["--help", "-h"], ["--backend"], ["--out", "-o"], ["--once"], ["--verbose", "-v"]]);
    expect(flags.find((f) => f.names[0] === "--out")).toMatchObject({ takesValue: true, description: "output directory" });
    expect(flags.find((f) => f.names[0] === "--once")?.takesValue).toBe(false);
    expect(flags.find((f) => f.names[0] === "--verbose")?.takesValue).toBe(false);
  });
});

describe("completionReply", () => {
  it("flags by prefix; zsh gets NAME:DESCRIPTION", () => {
    expect(reply(["--o"])).toEqual(["words", "--out", "--once"]);
    expect(reply(["--b"], "zsh")).toEqual(["words", "--backend:where jobs run"]);
  });
  it("a flag's choices after it, in the three shapes shells hand over", () => {
    expect(reply(["--backend", "l"])).toEqual(["words", "local"]);
    expect(reply(["--backend", "=", "s"])).toEqual(["words", "slurm"]);
    expect(reply(["--backend", "="])).toEqual(["words", "=slurm", "=local"]);
    expect(reply(["--backend=lo"])).toEqual(["words", "--backend=local"]);
  });
  it("files for a free value, a positional, or after a flag that takes none", () => {
    expect(reply(["--out", ""])).toEqual(["files"]);
    expect(reply(["-o", "x"])).toEqual(["files"]);
    expect(reply([""])).toEqual(["files"]);
    expect(reply(["--once", "g"])).toEqual(["files"]);
  });
});
