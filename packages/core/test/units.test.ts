import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatDuration, formatMemory, parseDuration, parseMemory, parseSlurmTime } from "../src/index.ts";

describe("durations", () => {
  it.each([
    ["1-02:03:04", 93784],
    ["02:03:04", 7384],
    ["03:04", 184],
    ["0:04", 4],
    ["2-00", 172800],
    ["1-01:30", 91800],
    ["15", 900],
    ["UNLIMITED", null],
    ["INVALID", null],
    ["Partition_Limit", null],
    ["NOT_SET", null],
    ["garbage", undefined],
  ])("%s -> %s", (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });
  it("round-trips (property)", () => {
    fc.assert(fc.property(fc.nat({ max: 400 * 86400 }), (s) => {
        expect(parseDuration(formatDuration(s))).toBe(s);
      }),);
  });
});

describe("timestamps", () => {
  it("reads Slurm's local timestamps and the empty forms", () => {
    expect(parseSlurmTime("2026-11-22T23:50:40")).toBe(new Date("2026-11-22T23:50:40").toISOString());
    for (const t of ["Unknown", "None", "N/A", "NONE", ""]) expect(parseSlurmTime(t)).toBeNull();
    expect(parseSlurmTime("1795391440")).toBe(new Date(1795391440 * 1000).toISOString());
    expect(parseSlurmTime("yesterday")).toBeUndefined();
  });
});

describe("memory", () => {
  it.each([
    ["1234K", 1234 * 1024],
    ["1.5G", 1.5 * 1024 ** 3],
    ["4000M", 4000 * 1024 ** 2],
    ["0", 0],
    ["8000Mn", 8000 * 1024 ** 2],
    ["2T", 2 * 1024 ** 4],
    ["", undefined],
    ["lots", undefined],
  ])("%s -> %s", (text, bytes) => {
    expect(parseMemory(text)).toBe(bytes);
  });
  it("reads --noconvert bytes", () => expect(parseMemory("329908224", 1)).toBe(329908224));
  it("formats for sbatch --mem so that the value is never smaller (property)", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 42 }), (b) => {
        expect(parseMemory(formatMemory(b))!).toBeGreaterThanOrEqual(b);
      }),);
  });
});
