import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { reportForRecord } from "../src/index.ts";
import { compare, loadCases, recordOf, scoreLine } from "./corpus/score.mjs";

/**
 * The corpus of real logs (test/corpus/README.md): log-parse on each case must give the verdict
 * recorded in its case.json. A case marked `known_miss` must still miss (the explanation is the
 * reason); when it starts to pass, drop the mark.
 */
const dir = fileURLToPath(new URL("./corpus", import.meta.url));
const cases = loadCases(dir);

describe("corpus of real logs", () => {
  it("has cases, each with its source", () => {
    expect(cases.length).toBeGreaterThan(0);
    for (const c of cases) expect(c.spec.source.length, c.name).toBeGreaterThan(10);
  });

  it.each(cases.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const diffs = compare(c.spec.expect, await reportForRecord(recordOf(c)));
    if (c.spec.known_miss) expect(diffs, `known miss now passes: drop "known_miss" (${c.spec.known_miss})`).not.toEqual([]);
    else expect(diffs).toEqual([]);
  });

  it("prints the score line", async () => {
    const results = [];
    for (const c of cases) results.push({ name: c.name, diffs: compare(c.spec.expect, await reportForRecord(recordOf(c))), ...(c.spec.known_miss ? { known_miss: c.spec.known_miss } : {}) });
    const line = scoreLine(results);
    expect(line).toMatch(/^\d+ passed, \d+ failed$/);
    process.stdout.write(`log-parse corpus: ${line}\n`);
  });
});
