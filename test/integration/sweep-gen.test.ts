import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RunRecord } from "@slurmpipe/core";
import { describe, expect, it } from "vitest";
import { records, repoRoot, runCli } from "../support/cli.ts";

// The BUILT command (packages/sweep-gen/dist/cli.mjs): `pnpm --filter @slurmpipe/sweep-gen build` first.
const tier3 = join(repoRoot, "examples/tier3.yaml");
const fixtures = join(repoRoot, "packages/sweep-gen/test/fixtures");

describe("sweep-gen (built CLI)", () => {
  it("counts the Tier-3 sweep: 216", async () => {
    const r = await runCli("sweep-gen", [tier3, "--count"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe("216");
    expect(r.stderr).toBe("");
  });

  it("repeatable flags do not swallow the sweep file: -p before the file, two --filter", async () => {
    const r = await runCli("sweep-gen", ["-p", "seed=0..1", tier3, "--filter", "variant=S-core", "--filter", "lr<0.2", "--count"]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(r.stdout).toBe(String(1 * 2 * 3 * 2));
  });

  it("emits 216 valid records, unique names, byte-identical on a second run", async () => {
    const a = await runCli("sweep-gen", [tier3]);
    const b = await runCli("sweep-gen", [tier3], { cwd: tmpdir() });
    expect(a.exitCode).toBe(0);
    expect(b.stdout).toBe(a.stdout);
    const recs = records(a.stdout);
    expect(recs).toHaveLength(216);
    for (const r of recs) expect(RunRecord.safeParse(r).success).toBe(true);
    expect(new Set(recs.map((r) => r.name)).size).toBe(216);
  });

  it("exits 0 quietly when the reader goes away (| head -1)", async () => {
    const source = runCli("sweep-gen", [tier3]);
    const head = await source.pipe("head", ["-1"]);
    const src = await source;
    expect(records(head.stdout)).toHaveLength(1);
    expect(src.exitCode).toBe(0);
    expect(src.stderr).toBe("");
  });

  it("streams a million-run sweep lazily: | head -1 returns at once", async () => {
    const started = Date.now();
    const source = runCli("sweep-gen", ["-p", "a=1..1000", "-p", "b=1..1000", "--args", "hydra", "--", "python", "train.py"]);
    const head = await source.pipe("head", ["-1"]);
    const src = await source;
    expect(records(head.stdout)[0]).toMatchObject({ name: "a1_b1", command: ["python", "train.py", "a=1", "b=1"] });
    expect(src.exitCode).toBe(0);
    expect(src.stderr).toBe("");
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("exits 2 on bad flags and 1 on a bad sweep file, naming file, key and line", async () => {
    const flag = await runCli("sweep-gen", ["-p", "lr", "--count"]);
    expect(flag.exitCode).toBe(2);
    expect(flag.stderr).toContain("expected KEY=VALUES");
    const dir = mkdtempSync(join(tmpdir(), "sweep-gen-"));
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "grid:\n  lr: [0.1, 0.2]\n  seed: []\n");
    const bad = await runCli("sweep-gen", [file]);
    expect(bad.exitCode).toBe(1);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toContain(`${file}:3: field "grid.seed": empty axis`);
    expect(bad.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("--help explains the command with examples", async () => {
    const r = await runCli("sweep-gen", ["--help"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain("--from-dirs");
    expect(r.stdout).toContain("sweep-gen examples/tier3.yaml --count");
  });

  it("--from-dirs turns the fixture experiment into records and notes the control run", async () => {
    const r = await runCli("sweep-gen", ["--from-dirs", "*/*/finetune.slurm"], { cwd: fixtures });
    expect(r.exitCode).toBe(0);
    const recs = records(r.stdout);
    expect(recs.map((x) => x.name)).toEqual(["rank16_lr1e-5", "rank8_lr1e-5", "rank8_lr5e-5"]);
    expect(recs.every((x) => typeof (x.script as { path: string }).path === "string")).toBe(true);
    expect(r.stderr).toContain("skipping control run Llama-3.2-1B-Instruct_base");
  });
});
