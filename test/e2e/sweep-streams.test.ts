import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { cliPath } from "../support/cli.ts";

// Issue #14 item 16: `sweep-gen -p x=1..200000` and bigger sweeps stream in constant memory, into
// a pipe, with backpressure. The built command runs as a user runs it (`... | wc -l`); its peak
// RSS is Node's own account (process.resourceUsage().maxRSS), written by a preloaded hook on exit.
const dir = mkdtempSync(join(tmpdir(), "sp-sweep-streams-"));
const hook = join(dir, "peak-rss.cjs");
writeFileSync(hook, 'process.on("exit", () => require("fs").writeFileSync(process.env.SP_PEAK_RSS_FILE, String(process.resourceUsage().maxRSS)));\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** Runs `sweep-gen ARGS | CONSUMER` under bash -o pipefail; returns the consumer's output and sweep-gen's peak RSS in MB. */
async function pipeline(args: string[], consumer: string): Promise<{ out: string; peakMb: number; stderr: string }> {
  const rss = join(dir, `rss-${n++}`);
  const quoted = args.map((a) => `'${a}'`).join(" ");
  const r = await execa("bash", ["-o", "pipefail", "-c", `node ${cliPath("sweep-gen")} ${quoted} | ${consumer}`], {
    env: { NODE_OPTIONS: `--require ${hook}`, SP_PEAK_RSS_FILE: rss },
    reject: false,
  });
  expect(r.exitCode, r.stderr).toBe(0);
  return { out: r.stdout.trim(), peakMb: Number(readFileSync(rss, "utf8")) / 1024, stderr: r.stderr };
}

// Node itself and the bundle take ~50 MB; the README promises about 100 MB for any size.
const CEILING_MB = 200;

describe("sweep-gen streams sweeps of any size in constant memory", () => {
  let small = 0;
  it("-p x=1..200000 | wc -l", async () => {
    const r = await pipeline(["-p", "x=1..200000"], "wc -l");
    expect(r.out).toBe("200000");
    expect(r.peakMb).toBeLessThan(CEILING_MB);
    small = r.peakMb;
    expect((await pipeline(["-p", "x=1..200000", "--count"], "cat")).out).toBe("200000");
  }, 300_000);

  it("a 2-axis product of a million runs, also read by a slow reader (backpressure, not buffering)", async () => {
    const args = ["-p", "x=1..1000", "-p", "y=1..1000", "--args", "hydra", "--command", "python train.py"];
    expect((await pipeline([...args, "--count"], "cat")).out).toBe("1000000");
    const fast = await pipeline(args, "wc -l");
    expect(fast.out).toBe("1000000");
    const slow = await pipeline(args, "{ sleep 3; wc -l; }");
    expect(slow.out).toBe("1000000");
    for (const r of [fast, slow]) expect(r.peakMb).toBeLessThan(Math.max(CEILING_MB, small + 64));
  }, 600_000);

  it("one axis of a million values (held as arithmetic, not a million objects) and one of two million", async () => {
    const million = await pipeline(["-p", "x=1..1000000"], "wc -l");
    expect(million.out).toBe("1000000");
    // Was 380 MB when the axis was expanded into values; the 200k-run sweep's peak plus a margin.
    expect(million.peakMb).toBeLessThan(Math.max(CEILING_MB, small + 64));
    const count = await pipeline(["-p", "x=1..2000000", "-p", "y=1..2000000", "--count", "--max-runs", "4000000000000"], "cat");
    expect(count.out).toBe("4000000000000");
    expect(count.peakMb).toBeLessThan(CEILING_MB);
  }, 600_000);
});
