import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ScratchTexts, type TextRef } from "../src/index.ts";

const text = (i: number) => JSON.stringify({ i, name: `run-${i}`, note: "é→✓".repeat(i % 7), pad: "x".repeat((i * 37) % 3000) });

describe("ScratchTexts", () => {
  it("gives back every text, in any order, across 1 MiB chunks, and leaves no file behind", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-scratch-"));
    const store = await ScratchTexts.open(dir, "records");
    expect(readdirSync(dir)).toEqual([]); // unlinked at once
    const refs: TextRef[] = [];
    for (let i = 0; i < 3000; i++) refs.push(await store.put(text(i)));
    for (let i = 0; i < 3000; i++) expect(await store.get(refs[i]!)).toBe(text(i));
    for (const i of [2999, 0, 1500, 1499, 7]) expect(await store.get(refs[i]!)).toBe(text(i));
    await store.close();
    expect(readdirSync(dir)).toEqual([]);
  });

  it("serves overlapping calls (puts and gets issued without waiting for each other)", async () => {
    const store = await ScratchTexts.open(mkdtempSync(join(tmpdir(), "sp-scratch-")), "records");
    const reads: Promise<string>[] = [];
    const refs: Promise<TextRef>[] = [];
    for (let i = 0; i < 2000; i++) {
      refs.push(store.put(text(i)));
      if (i % 3 === 0) reads.push(refs[Math.floor(i / 2)]!.then((ref) => store.get(ref)));
    }
    for (const [i, ref] of (await Promise.all(refs)).entries()) expect(await store.get(ref)).toBe(text(i));
    const got = await Promise.all(reads);
    expect(got).toEqual(got.map((_, k) => text(Math.floor((3 * k) / 2))));
    await store.close();
  });

  it("refuses a reference to nothing", async () => {
    const store = await ScratchTexts.open(mkdtempSync(join(tmpdir(), "sp-scratch-")), "records");
    await store.put("abc");
    await expect(store.get({ at: 2, length: 5 })).rejects.toThrow(/no text at 2\+5/);
    await store.close();
  });

  it("in memory, for when no scratch file can be made, behaves the same", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ unit: "grapheme", maxLength: 5000 }), { maxLength: 60 }), async (texts) => {
        const file = await ScratchTexts.open(mkdtempSync(join(tmpdir(), "sp-scratch-")), "p");
        const memory = ScratchTexts.inMemory();
        const refs: (readonly [TextRef, TextRef])[] = [];
        for (const t of texts) refs.push([await file.put(t), await memory.put(t)]);
        for (const [k, [f, m]] of [...refs.entries()].reverse()) {
          expect(await file.get(f)).toBe(texts[k]);
          expect(await memory.get(m)).toBe(texts[k]);
        }
        await file.close();
      }),
      { numRuns: 40 },
    );
  });
});
