import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PollStore } from "../src/store.ts";
import { StringPool, type Track, isoTime } from "../src/track.ts";

const tmp = () => mkdtempSync(join(tmpdir(), "sp-poll-mem-"));

describe("poll store", () => {
  it("writes the same bytes as one JSON.stringify of the whole file, in chunks, and loads them back", async () => {
    const dir = tmp();
    const store = new PollStore(dir);
    const tracks = new Map<string, Track>();
    for (let i = 0; i < 6000; i++) {
      const t: Track = { key: `900_${i}`, queryId: "900", trackedAt: "2026-01-01T00:00:00.000Z", restarts: 0, arrayTask: i, name: `s${i} "quoted" ✓` };
      if (i % 3 === 0) t.state = { state: "PENDING", category: "pending", terminal: false, source: "squeue", restarts: 0, reason: "JobHeldUser" };
      tracks.set(`900_${i}|run${i}|1`, t);
    }
    const now = new Date("2026-01-02T03:04:05.678Z");
    await store.save(tracks, now);
    const text = readFileSync(join(dir, "jobs.json"), "utf8");
    expect(text.length).toBeGreaterThan(1024 * 1024);
    expect(text).toBe(`${JSON.stringify({ v: 1, updated_at: now.toISOString(), jobs: Object.fromEntries(tracks) })}\n`);
    expect(await store.load()).toEqual(tracks);
    expect(readdirSync(dir)).toEqual(["jobs.json"]); // no temp file left
    await store.save(new Map(), now);
    expect(await store.load()).toEqual(new Map());
  });
});

describe("string pool", () => {
  it("hands out one copy of equal strings", () => {
    const pool = new StringPool();
    const a = pool.get(["spbench", "array"].join("-"));
    expect(pool.get(`spbench-${"array"}`)).toBe(a);
    expect(pool.get("other")).toBe("other");
  });
});

describe("cycle time", () => {
  it("formats like toISOString (cached per time) and follows a new time", () => {
    const at = isoTime(new Date("2026-01-02T03:04:05.678Z"));
    expect(at).toBe("2026-01-02T03:04:05.678Z");
    const again = isoTime(new Date(Date.parse(at)));
    expect(again).toBe(at);
    expect(isoTime(new Date("2026-01-02T03:04:06.000Z"))).toBe("2026-01-02T03:04:06.000Z");
  });
});
