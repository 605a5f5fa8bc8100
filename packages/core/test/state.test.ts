import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LockedError, listableJobName, lockStateDir, matchesTag, parseJobTag, taggedJobName, writeFileAtomic } from "../src/index.ts";

describe("job name tags", () => {
  it("keeps the readable name and appends the run-id tag", () => {
    expect(taggedJobName("S-core_lr0.1_wd1e-4_s0", "a1b2c3d4e5f6")).toBe("S-core_lr0.1_wd1e-4_s0.spa1b2c3d4e5");
    expect(taggedJobName("x", "a1b2c3d4e5f6", 2)).toBe("x.spa1b2c3d4e5r2");
  });
  it("fits sacct's 255 bytes with the tag intact and strips spaces", () => {
    const name = taggedJobName(`${"é".repeat(300)} with space`, "a1b2c3d4e5f6");
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
    expect(parseJobTag(name)).toEqual({ runIdPrefix: "a1b2c3d4e5", attempt: 1 });
    expect(taggedJobName("a b'c", "a1b2c3d4e5f6")).toBe("a_b_c.spa1b2c3d4e5");
  });
  it("never makes a name Slurm's --name list would split: commas become _", () => {
    const name = taggedJobName("lr0.1,wd1e-4|x%j", "a1b2c3d4e5f6");
    expect(name).toBe("lr0.1_wd1e-4_x_j.spa1b2c3d4e5");
    expect(listableJobName(name)).toBe(true);
    expect(listableJobName("a,b.spa1b2c3d4e5")).toBe(false);
  });
  it("parses and matches tags", () => {
    expect(parseJobTag("foo.spa1b2c3d4e5r3")).toEqual({ runIdPrefix: "a1b2c3d4e5", attempt: 3 });
    expect(parseJobTag("plainjob")).toBeUndefined();
    expect(matchesTag("foo.spa1b2c3d4e5", "a1b2c3d4e5f6")).toBe(true);
    expect(matchesTag("foo.spa1b2c3d4e5r2", "a1b2c3d4e5f6")).toBe(false);
  });
});


describe("state directory lock", () => {
  it("lets one process in and refuses the second", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-lock-"));
    const release = await lockStateDir(dir);
    await expect(lockStateDir(dir)).rejects.toThrow(LockedError);
    await release();
    const again = await lockStateDir(dir);
    await again();
  });
  it("waits for the lock when asked to", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-lock-"));
    const release = await lockStateDir(dir);
    setTimeout(() => void release(), 300);
    const second = await lockStateDir(dir, { waitMs: 3000 });
    await second();
  });
});

describe("writeFileAtomic", () => {
  it("replaces the content", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-atomic-"));
    const p = join(dir, "f.md");
    writeFileSync(p, "old");
    await writeFileAtomic(p, "new");
    expect(readFileSync(p, "utf8")).toBe("new");
  });
});
