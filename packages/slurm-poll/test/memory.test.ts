import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StringPool } from "@slurmpipe/core";
import { describe, expect, it } from "vitest";
import { PollStore } from "../src/store.ts";
import { type Track, isoTime } from "../src/track.ts";

const tmp = () => mkdtempSync(join(tmpdir(), "sp-poll-mem-"));

describe("poll store", () => {
  const sample = () => {
    const tracks = new Map<string, Track>();
    for (let i = 0; i < 6000; i++) {
      const t: Track = { key: `900_${i}`, queryId: "900", trackedAt: "2026-01-01T00:00:00.000Z", restarts: 0, arrayTask: i, name: `s${i} "quoted" ✓\nline` };
      if (i % 3 === 0) t.state = { state: "PENDING", category: "pending", terminal: false, source: "squeue", restarts: 0, reason: "JobHeldUser" };
      tracks.set(`900_${i}|run${i}|1`, t);
    }
    return tracks;
  };
  const now = new Date("2026-01-02T03:04:05.678Z");

  it("writes one JSON document, one job per line, in chunks, and loads it back a line at a time", async () => {
    const dir = tmp();
    const store = new PollStore(dir);
    const tracks = sample();
    await store.save(tracks, now);
    const text = readFileSync(join(dir, "jobs.json"), "utf8");
    expect(text.length).toBeGreaterThan(1024 * 1024); // several chunks
    expect(JSON.parse(text)).toEqual({ v: 1, updated_at: now.toISOString(), jobs: Object.fromEntries(tracks) });
    const lines = text.split("\n");
    expect(lines).toHaveLength(tracks.size + 3); // header, one line per job, "}}", "" after the last newline
    expect(lines[1]).toBe(`"900_0|run0|1":${JSON.stringify(tracks.get("900_0|run0|1"))},`);
    const loaded = await store.load();
    expect(loaded).toEqual(tracks);
    expect([...loaded.keys()]).toEqual([...tracks.keys()]); // same order
    expect(readdirSync(dir)).toEqual(["jobs.json"]); // no temp file left
    await store.save(new Map(), now);
    expect(readFileSync(join(dir, "jobs.json"), "utf8")).toBe(`{"v":1,"updated_at":"${now.toISOString()}","jobs":{\n}}\n`);
    expect(await store.load()).toEqual(new Map());
  });

  it("reads a file in any other layout whole (one line from an older poll, or pretty-printed)", async () => {
    const tracks = sample();
    const doc = { v: 1, updated_at: now.toISOString(), jobs: Object.fromEntries(tracks) };
    for (const text of [`${JSON.stringify(doc)}\n`, JSON.stringify(doc, null, 2)]) {
      const dir = tmp();
      writeFileSync(join(dir, "jobs.json"), text);
      expect(await new PollStore(dir).load()).toEqual(tracks);
    }
  });

  it("refuses a damaged file, naming the line", async () => {
    const dir = tmp();
    const store = new PollStore(dir);
    await store.save(sample(), now);
    const lines = readFileSync(join(dir, "jobs.json"), "utf8").split("\n");
    writeFileSync(join(dir, "jobs.json"), [...lines.slice(0, 5), '"900_4|run4|1":{"key":', ...lines.slice(6)].join("\n"));
    await expect(store.load()).rejects.toThrow(/jobs\.json: corrupt poll state \(line 6: .*\); move it away/);
    writeFileSync(join(dir, "jobs.json"), lines.slice(0, 100).join("\n")); // cut short
    await expect(store.load()).rejects.toThrow(/corrupt poll state \(the file ends before "jobs" does/);
  });

  it("loaded tracks take the strings they repeat from the pool", async () => {
    const dir = tmp();
    const store = new PollStore(dir);
    await store.save(sample(), now);
    const asked = new Set<string>();
    const pool = new (class extends StringPool {
      override get(text: string): string {
        asked.add(text);
        return super.get(text);
      }
    })();
    expect(await store.load(pool)).toEqual(sample());
    expect([...asked].sort()).toEqual(["2026-01-01T00:00:00.000Z", "900", "JobHeldUser", "pending", "PENDING", "squeue"].sort());
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
