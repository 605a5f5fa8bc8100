import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { createLogger } from "@slurmpipe/core";
import { describe, expect, it } from "vitest";
import { FakeSlurm, ac, ndjson, record, runPoll, sq } from "./fake-slurm.ts";
import { Progress } from "../src/progress.ts";

const tmp = () => mkdtempSync(join(tmpdir(), "sp-poll-progress-"));

/** Pending in cycle 1, running in cycles 2 and 3, completed in cycle 4. */
function fourCycles(fake: FakeSlurm) {
  fake.squeue([sq("300", 0, "PENDING", { reason: "Priority" })]);
  return (c: { cycle: number }) => {
    if (c.cycle === 1) fake.squeue([sq("300", 0, "RUNNING")]);
    if (c.cycle === 3) {
      fake.squeue([sq("300", 0, "COMPLETED")]);
      fake.sacct(ac("300", 0, "COMPLETED"));
    }
  };
}

describe("--progress off a terminal (issue #14 item 5)", () => {
  it("a summary line after a cycle, at most every D (by the poll's clock)", async () => {
    const fake = new FakeSlurm();
    let t = Date.parse("2026-11-23T11:00:00Z");
    const onCycle = fourCycles(fake);
    const res = await runPoll(fake, tmp(), ndjson([record(0, "300")]), {
      progressMs: 90_000,
      now: () => new Date(t),
      onCycle: (c) => {
        onCycle(c);
        t += 60_000; // a minute a cycle
      },
    });
    expect(res.code).toBe(0);
    expect(res.cycles).toHaveLength(4);
    // After cycle 1 (the first), not after cycle 2 (60 s later), after cycle 3 (120 s later); cycle 4 ends the watch.
    expect(res.err.split("\n").filter((l) => l.includes("next check in"))).toEqual(["slurm-poll: 1 jobs: 1 pending - next check in 0s", "slurm-poll: 1 jobs: 1 running - next check in 0s"]);
  });

  it("no summary lines without --progress", async () => {
    const fake = new FakeSlurm();
    const res = await runPoll(fake, tmp(), ndjson([record(0, "300")]), { onCycle: fourCycles(fake) });
    expect(res.code).toBe(0);
    expect(res.err).not.toMatch(/next check in/);
  });
});

describe("the live line on a terminal", () => {
  it("is drawn through the logger's progress line (\\r, clear) and cleared by stop()", () => {
    let text = "";
    const tty = Object.assign(new PassThrough(), { isTTY: true });
    tty.on("data", (c) => (text += String(c)));
    const log = createLogger("slurm-poll", { stderr: tty, env: { NO_COLOR: "1" } });
    const registry = { size: 2, runs: () => [{ track: { state: { category: "blocked" } } }, { track: {} }][Symbol.iterator]() };
    const p = new Progress({ log, liveProgress: true }, registry as never, () => new Date());
    p.cycleEnded(60_000);
    p.stop();
    expect(text).toBe("\r\u001b[Kslurm-poll: 2 jobs: 1 blocked, 1 not seen yet - next check in 1m 0s\r\u001b[K");
  });
});
