import { createWriteStream } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExtractorState, cleanSegment, extractMetrics, parseLogFile, parseNumber } from "../src/index.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "log-parse-scan-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, data: string | Buffer): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, data);
  return p;
}

describe("numbers", () => {
  it("reads scientific notation and every nan/inf spelling", () => {
    expect(parseNumber("1.818812E+00")).toBe(1.818812);
    expect(parseNumber("3.2e+4")).toBe(32000);
    expect(parseNumber("-.5")).toBe(-0.5);
    expect(parseNumber("0.0000e+00")).toBe(0);
    for (const n of ["nan", "NaN", "nan.0", "-nan"]) expect(parseNumber(n)).toBeNaN();
    expect(parseNumber("inf")).toBe(Number.POSITIVE_INFINITY);
    expect(parseNumber("inf.0")).toBe(Number.POSITIVE_INFINITY);
    expect(parseNumber("-inf")).toBe(Number.NEGATIVE_INFINITY);
    expect(parseNumber("Infinity")).toBe(Number.POSITIVE_INFINITY);
    expect(parseNumber("m7ey")).toBeUndefined();
    expect(parseNumber("info")).toBeUndefined();
  });

  it("reads a token with blanks around it as trimmed (ASCII and Unicode spaces), an empty one as no number", () => {
    expect(parseNumber(" 2.5\t")).toBe(2.5);
    expect(parseNumber("\u00a0nan\u00a0")).toBeNaN();
    expect(parseNumber("\u2003-inf")).toBe(Number.NEGATIVE_INFINITY);
    for (const blank of ["", " ", "\u00a0"]) expect(parseNumber(blank)).toBeUndefined();
  });
});

describe("the step of a line's pairs", () => {
  const stepOf = (line: string) => {
    const steps: (number | undefined)[] = [];
    extractMetrics(line, new ExtractorState(), (name, step) => name === "loss" && steps.push(step));
    return steps;
  };
  it("is the first valid value of the highest-ranked key: global_step, step, iteration, iter, num_updates, it", () => {
    expect(stepOf("{'loss': 1.5, 'step': 5, 'global_step': 7, 'epoch': 0.1}")).toEqual([7]);
    expect(stepOf("{'loss': 1.5, 'step': -1, 'iter': 3, 'it': 9}")).toEqual([3]); // -1 is no step
    expect(stepOf("{'loss': 1.5, 'step': 2.5, 'step': 4}")).toEqual([4]);
    expect(stepOf("{'loss': 1.5, 'epoch': 3}")).toEqual([undefined]);
    expect(stepOf("loss=1.5 it=12 num_updates=11")).toEqual([11]);
  });
});

describe("cleaning", () => {
  it("strips ANSI codes, backspaces and stacked rank prefixes, keeping the rank", () => {
    expect(cleanSegment("\x1b[1m165/165\x1b[0m \x1b[32m━━\x1b[0m - loss: 0.16")).toEqual({ text: "165/165 ━━ - loss: 0.16", rank: "" });
    expect(cleanSegment("29: [rank29]:   File \"x.py\", line 3, in f")).toEqual({ text: '  File "x.py", line 3, in f', rank: "29" });
    expect(cleanSegment("[default3]:Fatal Python error: Segmentation fault").rank).toBe("3");
    expect(cleanSegment("[1,0]<stdout>:Warning: NaN or Inf found in input tensor.")).toEqual({ text: "Warning: NaN or Inf found in input tensor.", rank: "0" });
    expect(cleanSegment("\b\b\b loss: 1").text).toBe(" loss: 1");
    expect(cleanSegment(" [2024-04-06 03:02:12] iteration 1/ 2 |").rank).toBe("");
  });
});

describe("scanning", () => {
  it("a \\r progress bar that never ends its line: the last update counts, a glued error is found", async () => {
    const bar = Array.from({ length: 2000 }, (_, i) => `Epoch 0:  50%|█████     | ${i + 1}/4000 [00:10<00:10, 100it/s, loss=${(5 - i / 1000).toFixed(3)}, v_num=1]`).join("\r");
    const p = await write("bar.log", `${bar}[E ProcessGroupNCCL.cpp:458] [Rank 0] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=1, OpType=ALLREDUCE, Timeout(ms)=600000) ran for 600061 milliseconds before timing out.\r${bar}`);
    const r = await parseLogFile(p, { maxLineBytes: 64 * 1024 });
    expect(r.files?.[0]).toMatchObject({ lines: 1, partial_last_line: true });
    expect(r.series?.loss?.length).toBeLessThanOrEqual(500);
    expect(r.loss?.last).toBe(3.001);
    expect(r.steps_seen).toBe(2000);
    expect(r.failures?.[0]).toMatchObject({ class: "NCCL", evidence: [{ line: 1 }] });
  });

  it("interleaved ranks: each rank's traceback is followed apart", async () => {
    const p = await write(
      "ranks.err",
      [
        "[rank0]: Traceback (most recent call last):",
        "[rank1]: Traceback (most recent call last):",
        '[rank0]:   File "/a/train.py", line 5, in main',
        '[rank1]:   File "/a/data.py", line 9, in load',
        "[rank1]: ValueError: bad shard 7",
        "[rank0]: RuntimeError: Connection closed by peer",
      ].join("\n"),
    );
    const r = await parseLogFile(p);
    expect(r.failures?.[0]).toMatchObject({
      class: "PYTHON_EXCEPTION",
      exception: { type: "ValueError", message: "bad shard 7", rank: "1", frame: { file: "/a/data.py", line: 9 } },
    });
  });

  it("invalid UTF-8 and a multibyte character cut at the end are decoded lossily", async () => {
    const p = await write("bad.log", Buffer.concat([Buffer.from("step=1 loss=2.5 \xff\xfe\n", "latin1"), Buffer.from("step=2 loss=2.0 █"), Buffer.from([0xe2, 0x96])]));
    const r = await parseLogFile(p);
    expect(r.series?.loss?.map((x) => x.value)).toEqual([2.5, 2]);
    expect(r.files?.[0]).toMatchObject({ lines: 2, partial_last_line: true });
  });

  it("a running job's partial last line is read; CRLF endings are fine", async () => {
    const p = await write("partial.log", "iter 0: loss 4.0, time 1.00ms\r\niter 10: loss 3.5, time 1.00ms\r\niter 20: loss 3.");
    const r = await parseLogFile(p);
    expect(r.series?.loss?.map((x) => x.value)).toEqual([4, 3.5, 3]);
    expect(r.files?.[0]).toMatchObject({ lines: 3, partial_last_line: true });
  });

  it("a very long line without \\r is scanned in pieces, in bounded memory", async () => {
    const p = await write("long.log", `${"x".repeat(3 * 1024 * 1024)} Segmentation fault\nstep=1 loss=1.0\n`);
    const r = await parseLogFile(p, { maxLineBytes: 1024 * 1024 });
    expect(r.files?.[0]).toMatchObject({ lines: 2, oversize_lines: 1 });
    expect(r.failures?.[0]?.evidence?.[0]?.line).toBe(1);
    expect(r.series?.loss?.[0]).toEqual({ step: 1, value: 1 });
  });

  it("streams a 50 MB log in bounded memory and keeps the series bounded", async () => {
    const p = join(dir, "big.log");
    const out = createWriteStream(p);
    let lines = 0;
    const block: string[] = [];
    for (let i = 0; i < 1000; i++) block.push(`iter ${i}: loss ${(4 - i / 1000).toFixed(4)}, time 100.00ms, mfu 30.00%  padding padding padding padding`);
    const chunk = `${block.join("\n")}\n`;
    for (let written = 0; written < 50 * 1024 * 1024; written += chunk.length) {
      if (!out.write(chunk)) await new Promise<void>((r) => out.once("drain", () => r()));
      lines += 1000;
    }
    await new Promise<void>((r) => out.end(() => r()));
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    const r = await parseLogFile(p);
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(r.files?.[0]?.lines).toBe(lines);
    expect(r.series?.loss?.length).toBeLessThanOrEqual(500);
    expect(r.series?.mfu?.length).toBeLessThanOrEqual(500);
    expect(r.loss).toMatchObject({ points: lines });
    expect(peak - before).toBeLessThan(80 * 1024 * 1024);
  });
});
