import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { RecordStore, type TextRef } from "../src/record-store.ts";

const text = (i: number) => JSON.stringify({ id: `run${i}`, name: `s${i}_é✓`, pad: "x".repeat((i * 37) % 900), nested: { i, list: [i, null] } });

async function roundTrip(store: RecordStore): Promise<void> {
  const refs: TextRef[] = [];
  for (let i = 0; i < 6000; i++) {
    refs.push(await store.put(text(i)));
    // Reads while texts are still gathered, not yet written.
    if (i % 997 === 0) expect(await store.get(refs[i]!.at, refs[i]!.length)).toBe(text(i));
  }
  const huge = JSON.stringify({ id: "huge", blob: "y".repeat(3 * 1024 * 1024) });
  const hugeRef = await store.put(huge);
  refs.push(await store.put(text(6000)));
  expect(refs[5999]!.at).toBeGreaterThan(2 * 1024 * 1024); // more than two 1 MiB chunks
  for (let i = 0; i < 6000; i++) expect(await store.get(refs[i]!.at, refs[i]!.length)).toBe(text(i)); // forward
  for (let i = 5999; i >= 0; i -= 7) expect(await store.get(refs[i]!.at, refs[i]!.length)).toBe(text(i)); // backward
  for (const i of [3, 5000, 17, 4242, 0, 5999]) expect(await store.get(refs[i]!.at, refs[i]!.length)).toBe(text(i)); // random
  expect(await store.get(hugeRef.at, hugeRef.length)).toBe(huge);
  expect(await store.get(refs[6000]!.at, refs[6000]!.length)).toBe(text(6000));
  await store.close();
}

describe("record store (the input's records out of memory until written out)", () => {
  it("gives every text back exactly, across chunks, in any order, between writes; leaves no file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-submit-store-"));
    const store = await RecordStore.open(dir);
    expect(readdirSync(dir)).toEqual([]); // unlinked at once: nothing is left, even after kill -9
    await roundTrip(store);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("keeps the texts in memory when no scratch file can be made", async () => {
    await expect(RecordStore.open("/nonexistent/dir")).rejects.toThrow();
    await roundTrip(RecordStore.inMemory());
  });
});
