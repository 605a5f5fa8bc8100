import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunRecord } from "@slurmpipe/core";
import { describe, expect, it } from "vitest";
import { RecordSpill, type SpillRef } from "../src/spill.ts";
import { PollStore } from "../src/store.ts";
import { StringPool, type Track } from "../src/track.ts";

const tmp = () => mkdtempSync(join(tmpdir(), "sp-poll-mem-"));

function run(i: number): RunRecord {
  return {
    kind: "run",
    v: 1,
    id: `run${i.toString(16).padStart(12, "0")}`,
    name: `s${i}_é✓`,
    params: { a: i, lr: 1e-3, nested: { list: [i, "x", null, true] } },
    command: ["python", "train.py", `a=${i}`, "x".repeat(i % 500)],
    job: { id: `900_${i}`, array_job_id: "900", array_task: i, attempt: 1 },
    extra_field_passed_through: { i },
  } as RunRecord;
}

describe("record spill (records kept out of memory until written out)", () => {
  it("gives back every record exactly, across chunks, in and out of order, with reads between writes", async () => {
    const dir = tmp();
    const spill = await RecordSpill.open(dir);
    // Unlinked at once: nothing is left in the state directory, even if poll is killed.
    expect(readdirSync(dir)).toEqual([]);
    const refs: SpillRef[] = [];
    for (let i = 0; i < 4000; i++) {
      refs.push(await spill.put(run(i)));
      // Reads while writes are still gathered (watch mode: a job ends while stdin is still read).
      if (i % 997 === 0) expect(await spill.get(refs[i]!)).toEqual(run(i));
      if (i % 1499 === 1) expect(await spill.get(refs[i >> 1]!)).toEqual(run(i >> 1));
    }
    expect(refs.at(-1)!.at).toBeGreaterThan(2 * 1024 * 1024); // more than two 1 MiB chunks
    for (let i = 0; i < refs.length; i++) expect(JSON.stringify(await spill.get(refs[i]!))).toBe(JSON.stringify(run(i)));
    const again = await Promise.all([3999, 0, 2500, 1].map((i) => spill.get(refs[i]!)));
    expect(again).toEqual([run(3999), run(0), run(2500), run(1)]);
    await spill.close();
    expect(readdirSync(dir)).toEqual([]);
  });
});

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
