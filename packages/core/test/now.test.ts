import { describe, expect, it } from "vitest";
import { UsageError, resolveNow } from "../src/index.ts";

describe("resolveNow: the one rule for --now and SOURCE_DATE_EPOCH", () => {
  it("--now takes ISO 8601 or whole Unix seconds, before SOURCE_DATE_EPOCH", () => {
    const env = { SOURCE_DATE_EPOCH: "0" };
    expect(resolveNow("2026-01-31T12:00:00Z", env).toISOString()).toBe("2026-01-31T12:00:00.000Z");
    expect(resolveNow("2026-01-31T12:00:00.5+01:00", env).toISOString()).toBe("2026-01-31T11:00:00.500Z");
    expect(resolveNow("2026-01-31", env).toISOString()).toBe("2026-01-31T00:00:00.000Z");
    expect(resolveNow("1735689600", env).toISOString()).toBe("2025-01-01T00:00:00.000Z");
    expect(resolveNow(" 1735689600 ", env).toISOString()).toBe("2025-01-01T00:00:00.000Z");
  });

  it("refuses what Date would misread: fractions, bare words, loose dates", () => {
    // new Date("1.5") is 1 May 2001 and "March 7" a date in 2001: both were accepted by one copy.
    for (const bad of ["1.5", "March 7", "yesterday", "", "2026-13-01", "2026-01-31T25:00Z", "-5"]) {
      expect(() => resolveNow(bad, {}), bad).toThrow(UsageError);
      expect(() => resolveNow(bad, {}), bad).toThrow(/--now: expected an ISO 8601 time/);
    }
  });

  it("SOURCE_DATE_EPOCH is whole seconds only (the specification's integer); empty is unset", () => {
    expect(resolveNow(undefined, { SOURCE_DATE_EPOCH: "1761274800" }).toISOString()).toBe("2025-10-24T03:00:00.000Z");
    expect(() => resolveNow(undefined, { SOURCE_DATE_EPOCH: "1761274800.5" })).toThrow(/SOURCE_DATE_EPOCH: expected whole Unix seconds, got "1761274800.5"/);
    expect(() => resolveNow(undefined, { SOURCE_DATE_EPOCH: "tomorrow" })).toThrow(UsageError);
    const before = Date.now();
    const t = resolveNow(undefined, { SOURCE_DATE_EPOCH: "" }).getTime();
    expect(t).toBeGreaterThanOrEqual(before);
  });
});
