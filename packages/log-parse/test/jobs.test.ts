import { appendFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runLogParse } from "./run-lib.ts";

/** Records of every kind log-parse meets, with logs of several shapes (and failures) to parse. */
function sweep(dir: string): string {
  const lines: string[] = [];
  for (let i = 0; i < 9; i++) {
    const out = join(dir, `run${i}.out`);
    const err = join(dir, `run${i}.err`);
    const body = Array.from({ length: 3000 }, (_, s) => (i % 2 ? `{'loss': ${(4 - s / 1000).toFixed(4)}, 'learning_rate': 1e-05, 'epoch': ${(s / 100).toFixed(2)}}` : `step ${s} loss ${(4 - s / 1000).toFixed(4)}`));
    if (i === 4) body.push("step 3000 loss nan");
    writeFileSync(out, `${body.join("\n")}\n`);
    writeFileSync(err, i === 6 ? 'Traceback (most recent call last):\n  File "t.py", line 3, in <module>\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n' : "");
    lines.push(JSON.stringify({ id: `r${i}`, name: `run${i}`, logs: { stdout: out, stderr: err }, state: { state: i === 6 ? "FAILED" : "RUNNING", category: i === 6 ? "failure" : "active", terminal: i === 6 } }));
    if (i === 2) lines.push(JSON.stringify({ kind: "summary", note: "passed through" }));
    if (i === 5) lines.push(JSON.stringify({ id: "bad", logs: { stdout: 42 } })); // invalid: named, not lost
  }
  lines.push(JSON.stringify({ id: "gone", name: "gone", logs: { stdout: join(dir, "missing.out") }, state: { state: "COMPLETED", category: "success", terminal: true } }));
  return `${lines.join("\n")}\n`;
}

describe("log-parse --jobs N: records parsed on N worker threads, the same output in the same order", () => {
  it("gives byte-for-byte the records of one thread, with and without --state, after an append", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lp-jobs-"));
    const input = sweep(dir);
    const one = await runLogParse(dir, {}, input);
    expect(one.code).toBe(1); // the invalid record and the missing log
    expect(one.records.length).toBe(input.trim().split("\n").length);
    for (const jobs of [2, 3]) {
      const many = await runLogParse(dir, { jobs }, input);
      expect(many.code).toBe(one.code);
      expect(JSON.stringify(many.records)).toBe(JSON.stringify(one.records));
      expect(many.stderr).toBe(one.stderr);
    }
    // --state with workers: their state files are the ones a single thread would go on from.
    const state = join(dir, "state");
    const first = await runLogParse(dir, { jobs: 2, state }, input, { verbose: true });
    expect(JSON.stringify(first.records)).toBe(JSON.stringify(one.records));
    for (let i = 0; i < 9; i++) appendFileSync(join(dir, `run${i}.out`), "step 5000 loss 0.5000\n");
    const grown = await runLogParse(dir, {}, input);
    for (const [jobs, cached] of [[2, "workers"], [1, "one thread"]] as const) {
      const tick = await runLogParse(dir, { jobs, state }, input, { verbose: true });
      expect(JSON.stringify(tick.records), cached).toBe(JSON.stringify(grown.records));
      // Every stdout log went on from its state (counts summed over the workers); the small stderr
      // logs were read again whole.
      if (jobs === 2) expect(tick.stderr).toMatch(/in 18 logs \(9 went on from their state, 9 from the start/);
    }
  });

  it("refuses a --jobs that is not a whole number from 1 to 64 (usage error)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lp-jobs-"));
    for (const jobs of [0, 65, 1.5]) await expect(runLogParse(dir, { jobs }, "")).rejects.toThrow(/--jobs: expected an integer from 1 to 64/);
  });
});
