import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FileSink, RunAnalysis } from "../src/analyzer.ts";
import { type Json, catalogue, restore, shareWith, snapshot, unshare } from "../src/snapshot.ts";
import { BlobTable, decodeStateFile, encodeStateFile } from "../src/state-file.ts";

const classes = () => {
  // As incremental.ts builds it: an analyzer with a series in it.
  const run = new RunAnalysis();
  const sink = run.sink("x");
  run.metric("loss", 1, "1", 1, "x", 1);
  return catalogue([run, sink, FileSink.prototype]);
};

describe("snapshot: typed arrays of whole numbers are kept as varint deltas", () => {
  it("restores every value exactly: steps, negative and huge deltas, capacity left as zeros", () => {
    const steps = new Float64Array(64);
    const values = [0, 1, 2, 3, 10, 20, 30, 2 ** 40, -(2 ** 40), 5, 5, 5, -1, 127, 128, 16383, 16384];
    steps.set(values);
    const ints = Int32Array.from([7, -7, 2 ** 31 - 1, -(2 ** 31), 0, 1, 2, 3, 4]);
    const data = snapshot({ steps, ints }, new Map());
    const text = JSON.stringify(data);
    // Kept as deltas (the "z" form), not the raw bytes.
    expect(text).toContain('"z"');
    expect(text).not.toContain('"b"');
    const back = restore(JSON.parse(text) as Json, new Map()) as { steps: Float64Array; ints: Int32Array };
    expect(back.steps).toBeInstanceOf(Float64Array);
    expect(Array.from(back.steps)).toEqual(Array.from(steps));
    expect(Array.from(back.ints)).toEqual(Array.from(ints));
    // A progression (a sample's sequence numbers) is its first value and its step.
    expect(JSON.stringify(snapshot({ seq: Float64Array.from({ length: 1000 }, (_, i) => 8 * i) }, new Map()))).toMatch(/"k":1000,"a":0,"d":8\}/);
  });

  it("keeps raw bytes for fractions, -0 and numbers past 2^50 (no rounding)", () => {
    for (const odd of [0.5, -0, 2 ** 51, Number.NaN]) {
      const a = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, odd, 10]);
      const text = JSON.stringify(snapshot({ a }, new Map()));
      expect(text).toContain('"b"');
      const back = restore(JSON.parse(text) as Json, new Map()) as { a: Float64Array };
      expect(Object.is(back.a[8], odd)).toBe(true);
    }
  });

  it("restores any typed array exactly: every type, views at any offset, trailing zeros and -0", () => {
    const types = [Float64Array, Float32Array, Int32Array, Uint32Array, Int16Array, Uint16Array, Int8Array, Uint8Array] as const;
    // Any values, or a progression a, a+d, ... (kept as its first value and step) broken or not at its end.
    const progression = fc.tuple(fc.integer({ min: -300, max: 300 }), fc.integer({ min: -40, max: 40 }), fc.nat(60), fc.option(fc.double())).map(([a, d, n, last]) => [...Array.from({ length: n }, (_, i) => a + i * d), ...(last === null ? [] : [last])]);
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.oneof(fc.array(fc.oneof(fc.double(), fc.constantFrom(0, -0, 1, 255)), { maxLength: 40 }), progression), fc.nat(24), fc.nat(16), (Type, values, zeros, skip) => {
        const all = new Type([...values, ...Array<number>(zeros).fill(0)].map((v) => (Type === Float64Array || Type === Float32Array ? v : Math.trunc(Number.isFinite(v) ? v : 0))));
        const view = all.subarray(Math.min(skip, all.length)); // a view at an odd byte offset for the small types
        const back = (restore(JSON.parse(JSON.stringify(snapshot({ a: view }, new Map()))) as Json, new Map()) as { a: ArrayLike<number> }).a;
        expect(back.length).toBe(view.length);
        for (let i = 0; i < view.length; i++) expect(Object.is(back[i], view[i])).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it("a tampered delta string is an error, not a wrong value", () => {
    const text = JSON.stringify(snapshot({ a: Float64Array.from({ length: 20 }, (_, i) => i * i * 1000) }, new Map()));
    const bad = JSON.parse(text) as { $o: { a: { z: string } } };
    bad.$o.a.z = Buffer.from(bad.$o.a.z, "base64").subarray(0, 5).toString("base64");
    expect(() => restore(bad as unknown as Json, new Map())).toThrow(/typed array/);
  });
});

describe("snapshot: a later log's snapshot is kept as its difference from the one before", () => {
  it("shares what is equal, and gives back the full snapshot", () => {
    const c = classes();
    const run = new RunAnalysis();
    const sink = run.sink("out");
    for (let i = 1; i <= 3000; i++) run.metric("loss", i, "", 4 - i / 1000, "out", i);
    const first = snapshot({ run, sink }, c);
    const err = run.sink("err");
    run.benignWarnings += 1;
    run.metric("lr", 1, "", 0.1, "err", 1);
    const second = snapshot({ run, sink: err }, c);
    const shared = shareWith(first, second);
    // The loss series is not repeated: the shared form is a small fraction of the full one.
    expect(JSON.stringify(shared).length).toBeLessThan(JSON.stringify(second).length / 5);
    expect(unshare(first, JSON.parse(JSON.stringify(shared)) as Json)).toEqual(second);
    // Equal snapshots share everything; a marker without its base is refused.
    expect(unshare(first, shareWith(first, first))).toEqual(first);
    expect(() => unshare(undefined, shareWith(first, first))).toThrow(/without its base/);
    const back = restore(unshare(first, shared), c) as { run: RunAnalysis };
    expect(back.run.series.get("loss")!.count).toBe(3000);
    expect(back.run.series.get("lr")!.count).toBe(1);
  });
});

describe("state file: a JSON header and the typed arrays as bytes", () => {
  it("round-trips a snapshot through its binary parts, an equal array kept once", () => {
    const blobs = new BlobTable();
    const values = Float64Array.from({ length: 300 }, (_, i) => Math.sin(i) * 1e-3);
    const steps = Float64Array.from([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9]);
    const a = snapshot({ values, steps }, new Map(), blobs);
    const b = snapshot({ again: Float64Array.from(values) }, new Map(), blobs);
    expect(blobs.parts).toHaveLength(2);
    const file = encodeStateFile({ a, b }, blobs.parts);
    const { header, parts } = decodeStateFile(file)!;
    const back = restore(header.a as Json, new Map(), parts) as { values: Float64Array; steps: Float64Array };
    expect(Array.from(back.values)).toEqual(Array.from(values));
    expect(Array.from(back.steps)).toEqual(Array.from(steps));
    expect(Array.from((restore(header.b as Json, new Map(), parts) as { again: Float64Array }).again)).toEqual(Array.from(values));
  });

  it("tells an earlier version's JSON from damage", () => {
    expect(decodeStateFile(Buffer.from('{"v":3}'))).toBeUndefined();
    const file = encodeStateFile({ x: 1 }, [Buffer.from([1, 2, 3])]);
    expect(() => decodeStateFile(file.subarray(0, 10))).toThrow(/truncated/);
    expect(() => decodeStateFile(file.subarray(0, file.length - 1))).toThrow(/truncated \(binary part\)/);
    expect(() => decodeStateFile(Buffer.concat([file, Buffer.from([0])]))).toThrow(/after the last/);
    expect(() => restore({ $i: 0, $t: "Float64Array", n: 4, bx: 7 }, new Map(), [])).toThrow(/no binary part 7/);
  });
});
