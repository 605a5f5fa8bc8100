import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LogReport } from "@slurmpipe/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseLogFile, reportForRecord } from "../src/index.ts";
import { FIRST_LINE, type Family, LINEAR_CONTROLS, SUPERLINEAR } from "./adversarial.ts";

/**
 * Parse time must grow linearly with the length of an adversarial line. No absolute time is
 * asserted (machines differ): the line length n is doubled until one parse takes at least
 * MIN_MS (so that the linear work, not the fixed cost of a report, is measured), then the time
 * for GROWTH·n is compared with the time for n. Linear gives about 16, quadratic about 256; the
 * bound is their geometric mean, 64, so a machine under load (CI runs the suites side by side)
 * can slow one size fourfold against the other without deciding the test. With a 4x step and a
 * bound of 8, a loaded CI machine failed a linear scan at 9.4x.
 * Sizes are timed in turn, each the best of a few runs, so a GC pause or a burst of load in one
 * run does not decide.
 */
const MIN_MS = 15;
const GROWTH = 16;
const MAX_N = 4 * 1024 * 1024;
const RATIO = 64;

let dir: string;
let seq = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "log-parse-linear-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function file(f: Family, n: number): Promise<string> {
  const p = join(dir, `f${seq++}.log`);
  await writeFile(p, `${FIRST_LINE}\n${f.line(n)}\n`);
  return p;
}

async function best(path: string, runs: number): Promise<{ ms: number; report: LogReport }> {
  let ms = Number.POSITIVE_INFINITY;
  let report: LogReport = {};
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    report = await parseLogFile(path);
    ms = Math.min(ms, performance.now() - t);
  }
  return { ms, report };
}

function values(report: LogReport, metric: string): (number | null)[] {
  return (report.series?.[metric] ?? []).map((p) => p.value);
}

async function scaling(f: Family): Promise<void> {
  let n = 1024;
  // Also warms the code up, so that the first timed size is not decided by compilation.
  const first = await best(await file(f, n), 3);
  // The first line and the values before the adversarial part come out (no metric lost).
  expect(values(first.report, "loss")[0]).toBe(9.5);
  for (const [metric, value] of f.values ?? []) expect(values(first.report, metric)).toContain(value);
  f.check?.(first.report);
  let small = first;
  while (small.ms < MIN_MS && n < MAX_N) {
    n *= 2;
    small = await best(await file(f, n), 3);
  }
  const smallFile = await file(f, n);
  const bigFile = await file(f, GROWTH * n);
  let a = Number.POSITIVE_INFINITY;
  let b = Number.POSITIVE_INFINITY;
  for (let run = 0; run < 3; run++) {
    a = Math.min(a, (await best(smallFile, 1)).ms);
    const big = await best(bigFile, 1);
    b = Math.min(b, big.ms);
    expect(values(big.report, "loss")[0]).toBe(9.5);
  }
  const ratio = b / a;
  const why = `n=${n}: ${a.toFixed(1)} ms, ${GROWTH}n: ${b.toFixed(1)} ms`;
  if (process.env.LINEAR_LOG) console.log(`${f.name}: ${why}, ratio ${ratio.toFixed(2)}`);
  expect(ratio, why).toBeLessThan(RATIO);
}

describe("parse time is linear in the length of an adversarial line", () => {
  for (const f of SUPERLINEAR) it(f.name, () => scaling(f), 120_000);
});

describe("shapes that were already linear stay linear", () => {
  for (const f of LINEAR_CONTROLS) it(f.name, () => scaling(f), 120_000);
});

describe("record fields", () => {
  // resources.gres `gpu:a100:2(S:0)`: the socket suffix was cut with /\(.*\)$/, which retried
  // from every `(` of the string.
  it("a long gres string is read in linear time", async () => {
    const log = join(dir, "gres.log");
    await writeFile(log, `${FIRST_LINE}\n`);
    const state = { state: "COMPLETED", category: "success", terminal: true } as const;
    const report = (n: number) => reportForRecord({ logs: { stdout: log }, resources: { gres: `gpu:1,${"(".repeat(n)}x` }, state });
    const time = async (n: number) => {
      let ms = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        await report(n);
        ms = Math.min(ms, performance.now() - t);
      }
      return ms;
    };
    let n = 1024;
    await time(n);
    while ((await time(n)) < MIN_MS && n < MAX_N) n *= 2;
    const a = await time(n);
    const b = await time(GROWTH * n);
    expect(b / a, `n=${n}: ${a.toFixed(1)} ms, ${GROWTH}n: ${b.toFixed(1)} ms`).toBeLessThan(RATIO);
    expect((await report(10)).flags?.map((f) => f.flag)).toContain("NO_GPU_DEVICE_LINE"); // still one GPU asked for
  });
});

describe("many open tracebacks", () => {
  // Each line used to visit every open traceback (up to 2,000 of them, one per rank): a log where
  // every rank starts one cost about 2,000 times as much per line as a log with one rank.
  it("cost per line does not grow with the number of ranks with an open traceback", async () => {
    const lines = 8000;
    const one = join(dir, "tb-one.log");
    const many = join(dir, "tb-many.log");
    await writeFile(one, `${FIRST_LINE}\n${Array.from({ length: lines }, (_, i) => `[rank0]: Traceback (most recent call last): ${i}`).join("\n")}\n`);
    await writeFile(many, `${FIRST_LINE}\n${Array.from({ length: lines }, (_, i) => `[rank${i}]: Traceback (most recent call last):`).join("\n")}\n`);
    await best(many, 1);
    const a = await best(one, 3);
    const b = await best(many, 3);
    // Visiting every open traceback costs about 2,000x; 20 leaves room for a loaded CI machine.
    expect(b.ms / a.ms, `one rank ${a.ms.toFixed(1)} ms, ${lines} ranks ${b.ms.toFixed(1)} ms`).toBeLessThan(20);
    expect(values(b.report, "loss")).toEqual([9.5]);
  });

  it("a traceback still ends at its exception line after 2,000 lines of others", async () => {
    const p = join(dir, "tb-long.log");
    const filler = Array.from({ length: 1990 }, (_, i) => `[rank${i + 1}]: Traceback (most recent call last):`);
    await writeFile(p, ["[rank0]: Traceback (most recent call last):", '[rank0]:   File "a.py", line 1, in f', ...filler, "[rank0]: ValueError: late", ""].join("\n"));
    const r = await parseLogFile(p);
    expect(r.failures?.[0]).toMatchObject({ class: "PYTHON_EXCEPTION", exception: { type: "ValueError", message: "late", rank: "0" } });
    const expired = join(dir, "tb-expired.log");
    await writeFile(expired, ["[rank0]: Traceback (most recent call last):", ...filler, ...filler.slice(0, 20), "[rank0]: ValueError: late", ""].join("\n"));
    expect((await parseLogFile(expired)).failures).toEqual([]);
  });
});

describe("numbers of unbounded length", () => {
  it("a step number longer than a double can hold does not make the step count infinite", async () => {
    const p = join(dir, "huge-step.log");
    await writeFile(p, `${FIRST_LINE}\niter ${"9".repeat(400)}: loss 2.0, time 1.00ms\n`);
    const r = await parseLogFile(p);
    expect(Number.isFinite(r.steps_seen)).toBe(true);
    expect(JSON.parse(JSON.stringify(r)).steps_seen).toBe(r.steps_seen);
    expect(values(r, "loss")).toEqual([9.5, 2]);
  });

  it("a number of more than 64 digits is not a value; up to 64 digits it is", async () => {
    const p = join(dir, "digits.log");
    await writeFile(p, `step=1 loss=${"1".repeat(64)}\nstep=2 loss=${"1".repeat(65)}\nstep=3 loss=0.${"5".repeat(64)}\nstep=4 loss=1.${"5".repeat(65)}\n`);
    const r = await parseLogFile(p);
    expect(r.series?.loss?.map((x) => x.step)).toEqual([1, 3]);
    expect(r.series?.loss?.[0]?.value).toBe(Number("1".repeat(64)));
  });
});
