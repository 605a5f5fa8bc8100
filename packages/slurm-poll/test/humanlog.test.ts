import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { HumanLog, formatEntry } from "../src/humanlog.ts";

const tmp = () => mkdtempSync(join(tmpdir(), "sp-poll-log-"));
const AT = new Date("2026-11-23T15:15:43");

describe("--log", () => {
  it("appends a big cycle's entries as they come, in order", async () => {
    const path = join(tmp(), "run.log");
    const log = new HumanLog(path);
    const expected: string[] = [];
    for (let i = 0; i < 30_000; i++) {
      const details: [string, string | number | undefined][] = [["Job ID", `${i}`], ["Result", "x".repeat(i % 200)]];
      log.entry(AT, "STATE_CHANGE", `run${i}`, details);
      expected.push(formatEntry(AT, "STATE_CHANGE", `run${i}`, details));
    }
    await log.flush();
    const text = readFileSync(path, "utf8");
    expect(text.length).toBeGreaterThan(3 << 20); // several appends
    expect(text).toBe(expected.join(""));
  });

  it("reports a failed append at the next flush", async () => {
    const log = new HumanLog(tmp()); // a directory: appends fail
    for (let i = 0; i < 5_000; i++) log.entry(AT, "SUBMIT_JOB", `run${i}`, [["Result", "y".repeat(300)]]);
    await expect(log.flush()).rejects.toThrow(/EISDIR/);
    await expect(log.flush()).resolves.toBeUndefined();
  });
});
