import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StringPool } from "@slurmpipe/core";
import { describe, expect, it, vi } from "vitest";
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

  /** The jobs.json of the release before jobs.ndjson: one JSON document, one job per line. */
  const oldLayout = (tracks: Map<string, Track>) =>
    `{"v":1,"updated_at":"${now.toISOString()}","jobs":{\n${[...tracks].map(([k, t]) => `${JSON.stringify(k)}:${JSON.stringify(t)}`).join(",\n")}\n}}\n`;
  const lines = (dir: string) => readFileSync(join(dir, "jobs.ndjson"), "utf8").split("\n");

  it("writes NDJSON, one job per line, and loads it back in the same order", async () => {
    const dir = tmp();
    const store = new PollStore(dir);
    const tracks = sample();
    await store.save(tracks);
    const text = readFileSync(join(dir, "jobs.ndjson"), "utf8");
    expect(text.length).toBeGreaterThan(1024 * 1024); // more than the writer's buffer
    expect(text.endsWith("\n")).toBe(true);
    const written = lines(dir).slice(0, -1);
    expect(written).toHaveLength(tracks.size);
    expect(written[0]).toBe(JSON.stringify({ v: 1, store_key: "900_0|run0|1", track: tracks.get("900_0|run0|1") }));
    expect(written.map((l) => JSON.parse(l).store_key)).toEqual([...tracks.keys()]);
    const loaded = await store.load();
    expect(loaded).toEqual(tracks);
    expect([...loaded.keys()]).toEqual([...tracks.keys()]); // same order
    expect(readdirSync(dir)).toEqual(["jobs.ndjson"]); // no temp file left
    await store.save(new Map());
    expect(readFileSync(join(dir, "jobs.ndjson"), "utf8")).toBe("");
    expect(await store.load()).toEqual(new Map());
    expect(await new PollStore(tmp()).load()).toEqual(new Map()); // no store yet
  });

  it("writes and reads a job at a time: no string of the whole file (~70 MB at 100,000 jobs)", async () => {
    const dir = tmp();
    const store = new PollStore(dir);
    const tracks = sample();
    let longest = 0;
    const stringify = JSON.stringify;
    const parse = JSON.parse;
    const s = vi.spyOn(JSON, "stringify").mockImplementation((...args: Parameters<typeof stringify>) => {
      const out = stringify(...args);
      longest = Math.max(longest, out?.length ?? 0);
      return out;
    });
    const p = vi.spyOn(JSON, "parse").mockImplementation((...args: Parameters<typeof parse>) => {
      longest = Math.max(longest, args[0].length);
      return parse(...args);
    });
    try {
      await store.save(tracks);
      expect(await store.load()).toEqual(tracks);
    } finally {
      s.mockRestore();
      p.mockRestore();
    }
    expect(readFileSync(join(dir, "jobs.ndjson"), "utf8").length).toBeGreaterThan(1024 * 1024);
    expect(longest).toBeGreaterThan(100);
    expect(longest).toBeLessThan(1024);
  });

  it("migrates a state directory of the last release: jobs.json read, jobs.ndjson written, jobs.json removed", async () => {
    const tracks = sample();
    const doc = { v: 1, updated_at: now.toISOString(), jobs: Object.fromEntries(tracks) };
    // The layout the last release wrote, and the ones it read whole (an older poll's one line, pretty-printed).
    for (const text of [oldLayout(tracks), `${JSON.stringify(doc)}\n`, JSON.stringify(doc, null, 2)]) {
      const dir = tmp();
      writeFileSync(join(dir, "jobs.json"), text);
      const loaded = await new PollStore(dir).load();
      expect(loaded).toEqual(tracks);
      expect([...loaded.keys()]).toEqual([...tracks.keys()]);
      expect(readdirSync(dir)).toEqual(["jobs.ndjson"]);
      expect(lines(dir)).toHaveLength(tracks.size + 1);
      expect(await new PollStore(dir).load()).toEqual(tracks); // from jobs.ndjson now
    }
  });

  it("a migration stopped before jobs.json was removed: jobs.ndjson (newer) is read, jobs.json removed", async () => {
    const dir = tmp();
    const tracks = sample();
    const newer = new Map([...tracks].slice(0, 10));
    writeFileSync(join(dir, "jobs.json"), oldLayout(tracks));
    await new PollStore(dir).save(newer);
    expect(await new PollStore(dir).load()).toEqual(newer);
    expect(readdirSync(dir)).toEqual(["jobs.ndjson"]);
  });

  it("a poll started on an old state directory continues it: no event repeated, the store migrated", async () => {
    const state = tmp();
    const dir = join(state, "poll");
    mkdirSync(dir);
    const t: Track = { key: "950", queryId: "950", trackedAt: "2026-01-01T00:00:00.000Z", restarts: 0, runId: "r950", name: "old" };
    t.state = { state: "PENDING", category: "pending", terminal: false, source: "squeue", restarts: 0 };
    writeFileSync(join(dir, "jobs.json"), oldLayout(new Map([["950|r950|1", t]])));
    const guarded: string[] = [];
    const store = new PollStore(dir);
    store.guard = () => guarded.push("checked");
    expect((await store.load()).get("950|r950|1")).toEqual(t);
    expect(guarded.length).toBeGreaterThan(0); // the migration writes only under the lock
    expect(readdirSync(dir)).toEqual(["jobs.ndjson"]);
  });

  it("refuses a damaged file, naming the line, and keeps a damaged old one", async () => {
    const dir = tmp();
    const store = new PollStore(dir);
    await store.save(sample());
    const good = lines(dir);
    writeFileSync(join(dir, "jobs.ndjson"), [...good.slice(0, 5), '{"v":1,"store_key":"900_5|run5|1","track":{"key":', ...good.slice(6)].join("\n"));
    await expect(store.load()).rejects.toThrow(/jobs\.ndjson: corrupt poll state \(line 6: not JSON: .*\); move it away/);
    writeFileSync(join(dir, "jobs.ndjson"), [...good.slice(0, 2), '{"v":1,"track":{}}', ""].join("\n"));
    await expect(store.load()).rejects.toThrow(/jobs\.ndjson: corrupt poll state \(line 3: not a job of the poll store\)/);

    const old = tmp();
    const oldLines = oldLayout(sample()).split("\n");
    writeFileSync(join(old, "jobs.json"), [...oldLines.slice(0, 5), '"900_4|run4|1":{"key":', ...oldLines.slice(6)].join("\n"));
    await expect(new PollStore(old).load()).rejects.toThrow(/jobs\.json: corrupt poll state \(line 6: .*\); move it away/);
    writeFileSync(join(old, "jobs.json"), oldLines.slice(0, 100).join("\n")); // cut short
    await expect(new PollStore(old).load()).rejects.toThrow(/corrupt poll state \(the file ends before "jobs" does/);
    expect(readdirSync(old)).toEqual(["jobs.json"]); // nothing written, nothing removed
  });

  it("loaded tracks take the strings they repeat from the pool", async () => {
    const dir = tmp();
    const store = new PollStore(dir);
    await store.save(sample());
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
