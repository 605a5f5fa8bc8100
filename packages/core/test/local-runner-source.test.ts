import { isBuiltin } from "node:module";
import { describe, expect, it } from "vitest";
import { jobRunnerSource } from "../src/local/job-runner.ts";

// The job runner is src/local/runner-process.ts, started as `node --input-type=module -e <text>`:
// the text must be plain JavaScript that needs nothing but node (it runs detached, also from a
// standalone command bundle copied to a login node). scripts/bundle.mjs makes the same text at
// build time; from sources (here) job-runner.ts bundles it on first use.
describe("local backend: the job runner's text", () => {
  it("is one ESM module of plain JavaScript importing node builtins only", () => {
    const text = jobRunnerSource();
    const specifiers = [...text.matchAll(/\bfrom\s+"([^"]+)"|\bimport\s*\(\s*"([^"]+)"/g)].map((m) => m[1] ?? m[2]!);
    expect(specifiers.length).toBeGreaterThan(0);
    expect(specifiers.filter((s) => !isBuiltin(s))).toEqual([]);
    expect(text).not.toMatch(/\bimport\s+type\b|\binterface\s+Running\b|\bas\s+LocalJob\b/);
    expect(text).not.toContain("require(");
    expect(text).toContain("DUE TO TIME LIMIT");
  });

  it("is made once per process", () => {
    expect(jobRunnerSource()).toBe(jobRunnerSource());
  });
});
