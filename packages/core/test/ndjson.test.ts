import { PassThrough, Readable } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { InputError, type LineError, MAX_DEPTH, NdjsonWriter, PipeClosedError, RunRecord, nestingOver, readNdjson, splitLines } from "../src/index.ts";

async function collect<T>(gen: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of gen) out.push(x);
  return out;
}
const read = (text: string | Buffer, opts = {}) => {
  const errors: LineError[] = [];
  return collect(readNdjson(Readable.from([Buffer.from(text)]), { onError: (e) => errors.push(e), ...opts })).then((items) => ({ items, errors }));
};

describe("NDJSON reader", () => {
  it("tolerates CRLF, a BOM, blank lines and a last line without newline", async () => {
    const { items, errors } = await read('\uFEFF{"a":1}\r\n\r\n  \n{"a":2}\n{"a":3}');
    expect(errors).toEqual([]);
    expect(items.map((i) => [i.value, i.line])).toEqual([[{ a: 1 }, 1], [{ a: 2 }, 4], [{ a: 3 }, 5]]);
  });
  it("reports a bad line with source and line number and keeps the records around it", async () => {
    const { items, errors } = await read('{"a":1}\nnot json\n[1]\n{"a":2}\n', { source: "runs.ndjson" });
    expect(items.map((i) => i.value)).toEqual([{ a: 1 }, { a: 2 }]);
    expect(errors).toMatchObject([
      { source: "runs.ndjson", line: 2, message: expect.stringContaining("not JSON") },
      { source: "runs.ndjson", line: 3, message: "expected a JSON object" },
    ]);
  });
  it("reports a record nested 10,000 levels deep as one bad line, and goes on", async () => {
    const deep = `{"id":"deep","x":${"[".repeat(10_000)}${"]".repeat(10_000)}}`;
    const { items, errors } = await read(`{"a":1}\n${deep}\n{"a":2}\n`, { schema: RunRecord.partial() });
    expect(items.map((i) => i.line)).toEqual([1, 3]);
    expect(errors).toMatchObject([{ line: 2, message: expect.stringContaining(`nested deeper than ${MAX_DEPTH} levels`) }]);
  });
  it("counts nesting outside strings only", () => {
    const within = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
    expect(nestingOver(`{"x":${within(MAX_DEPTH - 1)}}`, MAX_DEPTH)).toBe(0);
    expect(nestingOver(`{"x":${within(MAX_DEPTH)}}`, MAX_DEPTH)).toBe(MAX_DEPTH + 5);
    expect(nestingOver(JSON.stringify({ s: "[".repeat(500), t: 'a\\"[[[' }), MAX_DEPTH)).toBe(0);
    expect(nestingOver(`{"s":"\\\\"${"[".repeat(300)}`, MAX_DEPTH)).toBeGreaterThan(0); // the quote after \\\\ closes the string
  });
  it("names the failing field of a schema error and keeps unknown fields", async () => {
    const { items, errors } = await read('{"id":"abc","name":"x","extra":{"k":1}}\n{"id":"abc","name":5}\n', { schema: RunRecord });
    expect(items[0]!.value).toEqual({ id: "abc", name: "x", extra: { k: 1 } });
    expect(errors).toMatchObject([{ line: 2, field: "name" }]);
  });
  it("names nested fields", async () => {
    const schema = z.object({ job: z.object({ ids: z.array(z.string()) }) });
    const { errors } = await read('{"job":{"ids":["1",2]}}\n', { schema });
    expect(errors[0]!.field).toBe("job.ids[1]");
  });
  it("skips a line over the size cap without buffering it, and continues", async () => {
    const big = `{"a":"${"x".repeat(5000)}"}`;
    const chunks = [Buffer.from('{"a":1}\n'), ...Array.from({ length: 10 }, (_, i) => Buffer.from(big.slice(i * 501, (i + 1) * 501))), Buffer.from('\n{"a":2}\n')];
    const errors: LineError[] = [];
    const items = await collect(readNdjson(Readable.from(chunks), { maxLineBytes: 1000, onError: (e) => errors.push(e) }));
    expect(items.map((i) => i.value)).toEqual([{ a: 1 }, { a: 2 }]);
    expect(errors).toMatchObject([{ line: 2, message: expect.stringContaining("over the 1000-byte limit") }]);
  });
  it("stops at the first bad line in strict mode", async () => {
    await expect(read('{"a":1}\nbad\n{"a":2}\n', { strict: true })).rejects.toThrow(InputError);
  });
  it("splits identically whatever the chunking (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ unit: "grapheme" }).map((s) => s.replace(/[\r\n]/g, "")), { maxLength: 20 }), fc.integer({ min: 1, max: 7 }), async (lines, size) => {
        const text = Buffer.from(lines.join("\n"));
        const chunks: Buffer[] = [];
        for (let i = 0; i < text.length; i += size) chunks.push(text.subarray(i, i + size));
        const got = await collect(splitLines(Readable.from(chunks)));
        const expected = lines.join("\n").split("\n");
        if (expected[expected.length - 1] === "") expected.pop();
        expect(got.map((l) => l.text)).toEqual(expected.map((l, i) => (i === 0 ? l.replace(/^\uFEFF/, "") : l)));
      }),
    );
  });
  it("reports any malformed input as errors, never a crash (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string(), async (s) => {
        const { items, errors } = await read(s);
        expect(items.length + errors.length).toBeLessThanOrEqual(s.split("\n").length);
      }),
    );
  });
});

describe("NDJSON writer", () => {
  it("waits for drain (backpressure) and writes every record", async () => {
    const out = new PassThrough({ highWaterMark: 16 });
    const w = new NdjsonWriter(out);
    const received: string[] = [];
    const done = (async () => {
      for await (const c of out) {
        received.push(String(c));
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    for (let i = 0; i < 50; i++) await w.write({ i });
    out.end();
    await done;
    expect(received.join("").trim().split("\n")).toHaveLength(50);
  });
  it("throws PipeClosedError after EPIPE", async () => {
    const out = new PassThrough();
    const w = new NdjsonWriter(out);
    const err = Object.assign(new Error("write EPIPE"), { code: "EPIPE" });
    out.emit("error", err);
    await expect(w.write({ a: 1 })).rejects.toThrow(PipeClosedError);
  });
  it("writeWith writes a field given as JSON text in its place, as write would", async () => {
    const lines = async (fn: (w: NdjsonWriter) => Promise<void>) => {
      const out = new PassThrough();
      const w = new NdjsonWriter(out);
      const got: string[] = [];
      out.on("data", (c) => got.push(String(c)));
      await fn(w);
      out.end();
      return got.join("");
    };
    // Any record (the field present, undefined or absent; strings shaped like the marker; a
    // nested field of the same name) and any value: the line is the one write() writes.
    const value = fc.oneof(fc.jsonValue(), fc.constantFrom("\u0000", "\\u0000"), fc.string().map((s) => `\u0000${s}`));
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.string(), value), fc.constantFrom("present", "undefined", "absent"), value, async (rest, how, report) => {
        const record: Record<string, unknown> = { ...rest, nested: { report: "inner" } };
        if (how === "present") record.report = "before";
        else if (how === "absent") delete record.report;
        else if (how === "undefined") record.report = undefined;
        const viaWrite = await lines((w) => w.write({ ...record, report }));
        const viaWith = await lines((w) => w.writeWith(record, "report", JSON.stringify(report)));
        expect(viaWith).toBe(viaWrite);
      }),
      { numRuns: 300 },
    );
  });
});
