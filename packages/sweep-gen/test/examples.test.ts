import { readdirSync } from "node:fs";
import { join } from "node:path";
import { RunRecord } from "@slurmpipe/core";
import { describe, expect, it } from "vitest";
import { repoRoot, run } from "./helpers.ts";

// The shipped example sweeps are documentation: they must keep working.
const dir = join(repoRoot, "examples/sweeps");
const expected: Record<string, number> = { "lr-search-sobol.yaml": 48, "warmup-zip-argparse.yaml": 10, "torchtune-lora.json": 4 };

describe("examples/sweeps", () => {
  it("holds the documented examples", () => {
    expect(readdirSync(dir).sort()).toEqual(Object.keys(expected).sort());
  });
  for (const [file, count] of Object.entries(expected)) {
    it(`${file}: ${count} valid runs with unique names`, async () => {
      const r = await run({ file: join(dir, file) });
      expect(r.code, r.stderr).toBe(0);
      expect(r.records).toHaveLength(count);
      for (const rec of r.records) expect(RunRecord.safeParse(rec).success).toBe(true);
      expect(new Set(r.records.map((x) => x.name)).size).toBe(count);
    });
  }
});
