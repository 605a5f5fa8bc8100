import yargs from "yargs";
import { describe, expect, expectTypeOf, it } from "vitest";
import { COMMON_OPTIONS, DEFAULT_STATE_DIR, commonOptions, withCommonOptions, withPositionals } from "../src/cli/common-options.ts";

const parse = <K extends keyof typeof COMMON_OPTIONS>(names: K[], argv: string[]) =>
  withPositionals(withCommonOptions(yargs(argv).strictOptions().fail(false), names)).parseSync();

describe("common options", () => {
  it("every option has a type or choices, a help text and a help heading", () => {
    for (const [name, o] of Object.entries(COMMON_OPTIONS)) {
      expect("type" in o || "choices" in o, name).toBe(true);
      expect(o.describe.length, name).toBeGreaterThan(10);
      expect(o.group, name).toMatch(/:$/);
    }
  });

  it("adds only the chosen options", () => {
    const a = parse(["strict", "quiet"], []);
    expect(a.strict).toBe(false);
    expect(a.quiet).toBe(false);
    expect("verbose" in a).toBe(false);
    expect(() => parse(["strict"], ["--verbose"])).toThrow(/Unknown argument/);
  });

  it("keeps defaults, aliases and choices", () => {
    const a = parse(["backend", "slurm-bin", "state", "strict", "quiet", "verbose"], ["-q", "-v", "--backend", "local", "x.ndjson"]);
    expect(a).toMatchObject({ backend: "local", quiet: true, verbose: true, strict: false, _: ["x.ndjson"] });
    expect(a.state).toBeUndefined();
    expect(a["slurm-bin"]).toBeUndefined();
    expect(parse(["backend"], []).backend).toBe("slurm");
    expect(() => parse(["backend"], ["--backend", "pbs"])).toThrow(/Invalid values/);
    expect(DEFAULT_STATE_DIR).toBe(".slurmpipe");
  });

  it("infers the option types", () => {
    const a = parse(["backend", "slurm-bin", "state", "strict", "quiet"], []);
    expectTypeOf(a.backend).toEqualTypeOf<"slurm" | "local">();
    expectTypeOf(a.strict).toEqualTypeOf<boolean>();
    expectTypeOf(a.quiet).toEqualTypeOf<boolean>();
    expectTypeOf(a.state).toEqualTypeOf<string | undefined>();
    expectTypeOf(a["slurm-bin"]).toEqualTypeOf<string | undefined>();
    expectTypeOf(a._).toEqualTypeOf<(string | number)[]>();
  });

  it("hands out copies, never the shared definitions", () => {
    const o = commonOptions(["strict"]);
    expect(o.strict).toEqual(COMMON_OPTIONS.strict);
    expect(o.strict).not.toBe(COMMON_OPTIONS.strict);
    expect(() => commonOptions(["nope" as "strict"])).toThrow(/not a common option/);
  });
});
