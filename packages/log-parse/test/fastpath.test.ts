import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseLogFile, parseMetricSpec } from "../src/index.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "log-parse-fast-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// A user pattern that never matches turns off the prefilter and the raw-byte fast paths, so every
// segment takes the general path: both runs must give the same report.
const generalPath = { patterns: [parseMetricSpec("never=(zqzqzq\\d+)")] };

async function bothPaths(name: string, data: string | Buffer, options: { highWaterMark?: number } = {}) {
  const p = join(dir, name);
  await writeFile(p, data);
  const fast = await parseLogFile(p, options);
  const general = await parseLogFile(p, { ...options, ...generalPath });
  return { fast, general };
}

const bar = (epoch: number, n: number, total: number, postfix: string, glyphs = "██▌  ") => `Epoch ${epoch}:  ${Math.round((100 * n) / total)}%|${glyphs}| ${n}/${total} [00:01<00:02, 4.47it/s, ${postfix}]`;

// Updates the fast path reads, and near misses it must hand to the general path unchanged.
const UPDATES = [
  bar(0, 1, 10, "v_num=1, train_loss_step=2.500"),
  bar(0, 2, 10, "v_num=1, train_loss_step=2.250, lr=0.001"),
  "Epoch 0/9:  30%|███| 3/10 [00:01<00:02, loss=2.1, v_num=3]",
  bar(0, 0, 10, "v_num=1, loss=9.0"),
  "Epoch 1: : 7it [00:01,  4.47it/s, loss=2.2]",
  bar(1, 3, 10, "loss=nan.0, v_num=1"),
  bar(1, 4, 10, "loss=inf, v_num=1"),
  bar(1, 5, 10, "loss=4.8e+06, v_num=1"),
  bar(1, 6, 10, "loss=-0, grad=-0.0, lr=2., x=.5"),
  bar(1, 7, 10, "loss=1.2345678901234567, a=12345678901234567"),
  bar(1, 8, 10, "x=1=2, loss=1"),
  bar(1, 9, 10, "\tloss=1, val loss=2,  Loss=3, 9a=1, a b=2"),
  "Epoch 2:\u00a040%|####| 4/10 [loss=1]",
  "Epoch 2: 40%|####|\u3000 4/10 [loss=1]",
  bar(2, 5, 10, "loss=1\u00a0, b=2"),
  bar(2, 6, 10, "loss=1, é=2"),
  `${bar(2, 7, 10, "loss=1")} {'loss': 5}`,
  `${bar(2, 8, 10, "loss=1")} CUDA out of memory. Tried to allocate 2.00 GiB`,
  `${bar(2, 9, 10, "loss=1")} ▏tail █`,
  `\x1b[32m${bar(3, 1, 10, "loss=1.5")}\x1b[0m`,
  bar(3, 2, 10, "lo\bss=1.5"),
  bar(3, 3, 10, "v_num=1"),
  bar(3, 4, 10, "train/loss=1.5, a.b-c=2, step=7, Learning_Rate=0.5"),
  bar(3, 5, 10, `a${"b".repeat(70)}=1, loss=2`),
  `${bar(3, 6, 10, "loss=1")} number of nan iterations: 2`,
  bar(3, 7, 10, "LOSS=1,,loss=2"),
  bar(3, 8, 10, "loss=+1, b=1e5"),
  "Epoch 3: 90%|####| 9/10 [loss=1.5",
  "Epoch 99999999999999999: 40%|####| 4/10 [loss=1]",
];

describe("raw-byte fast path for Lightning updates", () => {
  it("gives the report of the general path, update by update and glued into \\r lines", async () => {
    const lines = `${UPDATES.join("\n")}\n${UPDATES.join("\r")}\n[rank1]: ${UPDATES.join("\r")}`;
    const { fast, general } = await bothPaths("updates.log", lines);
    expect(fast).toEqual(general);
    expect(fast.series?.train_loss_step?.map((p) => p.value)).toEqual([2.5, 2.25, 2.5, 2.25, 2.5, 2.25]);
    expect(fast.failures?.map((f) => f.class)).toContain("CUDA_OOM");
  });

  it("gives the same report whatever the chunk boundaries, with invalid UTF-8 in and after the bar", async () => {
    const bad = Buffer.concat([Buffer.from("Epoch 0:  50%|", "utf8"), Buffer.from([0xe2, 0x96, 0x7c]), Buffer.from(" 5/10 [loss=2.5]\rEpoch 0:  60%|█| 6/10 [loss=2.4]\xff\n", "latin1")]);
    const data = Buffer.concat([Buffer.from(`${UPDATES.join("\r")}\n`), bad, Buffer.from(UPDATES.slice(0, 3).join("\r"))]);
    for (const highWaterMark of [7, 64, 1000]) {
      const { fast, general } = await bothPaths(`chunks-${highWaterMark}.log`, data, { highWaterMark });
      expect(fast).toEqual(general);
    }
  });

  it("a bar inside a traceback is read by the general path", async () => {
    const text = ["Traceback (most recent call last):", bar(0, 1, 10, "loss=2.0"), '  File "/a/train.py", line 5, in main', "RuntimeError: boom", bar(0, 2, 10, "loss=1.9")].join("\n");
    const { fast, general } = await bothPaths("tb.log", text);
    expect(fast).toEqual(general);
    expect(fast.series?.loss?.map((p) => p.value)).toEqual([2, 1.9]);
  });
});
