import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Track } from "../src/track.ts";
import { FakeSlurm, SUBMITTED, ac, ndjson, record, runPoll, sq } from "./fake-slurm.ts";

const tmp = () => mkdtempSync(join(tmpdir(), "sp-poll-lost-"));
const MIN = 60_000;
const events = (out: Record<string, unknown>[]) => out.filter((r) => r.kind === "event");
const runs = (out: Record<string, unknown>[]) => out.filter((r) => r.kind !== "event");
const stateOf = (r: Record<string, unknown>) => r.state as Record<string, unknown>;
const jobOf = (r: Record<string, unknown>) => (r.job as { id: string }).id;

/** A fake clock: the poller's `now`, moved on by the test (real sleeps stay 10 ms). */
function clock(startMs = Date.parse(SUBMITTED) + MIN) {
  let t = startMs;
  return { now: () => new Date(t), tick: (ms: number) => (t += ms) };
}

/** The persisted track of a job (poll/jobs.ndjson, one job a line). */
function persisted(state: string, key: string): Track {
  const lines = readFileSync(join(state, "poll", "jobs.ndjson"), "utf8").trim().split("\n");
  return lines.map((l) => (JSON.parse(l) as { track: Track }).track).find((t) => t.key === key)!;
}

describe("--lost-after: a job missing from squeue and sacct stops holding up the watch", () => {
  it("ends the watch with the lost job UNKNOWN (flag lost), its record once, a warning, a JOB_LOST block, exit 3 even though a job failed", async () => {
    const fake = new FakeSlurm();
    const state = tmp();
    const log = join(state, "run.log");
    const c = clock();
    fake.squeue([sq("700", 0, "PENDING"), sq("701", 1, "PENDING")]);
    const res = await runPoll(fake, state, ndjson([record(0, "700"), record(1, "701")]), {
      now: c.now,
      lostAfterMs: 5 * MIN,
      logFile: log,
      timeoutMs: 60 * MIN, // a safety net only: the watch must end before
      onCycle: (info) => {
        if (info.cycle === 1) {
          fake.squeue([sq("700", 0, "FAILED")]); // 701 vanishes from squeue...
          fake.sacct(ac("700", 0, "FAILED", "1:0")); // ...and sacct never knew it
        }
        c.tick(MIN);
      },
    });
    // Missing from cycle 2 on: 0, 1, ..., 5 minutes at cycle 7.
    expect(res.cycles).toHaveLength(7);
    expect(res.code).toBe(3);
    const records701 = runs(res.out).filter((r) => jobOf(r) === "701");
    expect(records701).toHaveLength(1);
    expect(stateOf(records701[0]!)).toMatchObject({ state: "UNKNOWN", category: "uncertain", terminal: false, flag: "lost", source: "none" });
    expect(stateOf(records701[0]!).reason).toMatch(/^lost: missing from squeue and sacct for 5m 0s of answered queries; last seen PENDING at 2026-/);
    expect(stateOf(runs(res.out).find((r) => jobOf(r) === "700")!)).toMatchObject({ state: "FAILED", terminal: true });
    expect(events(res.out).filter((e) => e.job_id === "701").map((e) => e.to)).toEqual(["PENDING", "UNKNOWN"]);
    expect(res.err.match(/run1 \(job 701\) lost: /g)).toHaveLength(1);
    expect(res.err).toMatch(/watch ended: 1 of 2 job\(s\) lost \(701\)/);
    const text = readFileSync(log, "utf8");
    expect(text).toMatch(/\] JOB_LOST: run1\nJob ID: 701\nMissing: 5m 0s from squeue and sacct \(answered queries only\)\nLast seen: PENDING at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n/);
    expect(text).toMatch(/\] MONITOR_STOPPED: jobs lost\nSummary: 1 of 2 jobs lost .*\nLost: 701\n/);
    expect(text).not.toMatch(/ALL_COMPLETE/);
  });

  it.each(["squeue", "sacct"] as const)("a failing %s never advances the clock: only consecutive answered cycles count", async (cmd) => {
    const fake = new FakeSlurm();
    const state = tmp();
    const c = clock();
    fake.squeue([sq("710", 0, "PENDING")]);
    const missing: (number | undefined)[] = [];
    const chained: boolean[] = [];
    const res = await runPoll(fake, state, ndjson([record(0, "710")]), {
      now: c.now,
      lostAfterMs: 5 * MIN,
      timeoutMs: 120 * MIN,
      onCycle: (info) => {
        missing.push(persisted(state, "710").missingMs);
        chained.push(persisted(state, "710").missingCheckedAt !== undefined);
        if (info.cycle === 1) fake.squeue([]);
        if (info.cycle === 3) fake.fail(cmd, true); // cycles 4-9 fail: six minutes without an answer
        if (info.cycle === 9) fake.fail(cmd, false);
        c.tick(MIN);
      },
    });
    expect(res.cycles.map((x) => x.outcome)).toEqual(["ok", "ok", "ok", "failed", "failed", "failed", "failed", "failed", "failed", "ok", "ok", "ok", "ok", "ok"]);
    // Cycle 10 starts a new stretch after the outage; the six failed minutes are not in it.
    expect(missing).toEqual([undefined, 0, MIN, MIN, MIN, MIN, MIN, MIN, MIN, MIN, 2 * MIN, 3 * MIN, 4 * MIN, 5 * MIN]);
    // The break is on disk at once: a poll killed during the outage does not count it after a restart.
    expect(chained).toEqual([false, true, true, false, false, false, false, false, false, true, true, true, true, true]);
    expect(res.code).toBe(3);
    expect(stateOf(runs(res.out)[0]!)).toMatchObject({ state: "UNKNOWN", flag: "lost", terminal: false });
  });

  it("a lost job that is listed again is tracked normally: flag cleared, its final record follows", async () => {
    const fake = new FakeSlurm();
    const state = tmp();
    const c = clock();
    fake.squeue([sq("720", 0, "RUNNING"), sq("721", 1, "RUNNING")]);
    const script: Record<number, () => void> = {
      1: () => fake.squeue([sq("720", 0, "RUNNING")]),
      7: () => fake.squeue([sq("720", 0, "RUNNING"), sq("721", 1, "RUNNING")]), // 721 is back
      8: () => {
        fake.squeue([sq("720", 0, "COMPLETED"), sq("721", 1, "COMPLETED")]);
        fake.sacct([...ac("720", 0, "COMPLETED"), ...ac("721", 1, "COMPLETED")]);
      },
    };
    const res = await runPoll(fake, state, ndjson([record(0, "720"), record(1, "721")]), {
      now: c.now,
      lostAfterMs: 5 * MIN,
      timeoutMs: 60 * MIN,
      onCycle: (info) => {
        if (info.cycle === 7) expect(persisted(state, "721").state).toMatchObject({ state: "UNKNOWN", flag: "lost" });
        script[info.cycle]?.();
        c.tick(MIN);
      },
    });
    const states721 = runs(res.out)
      .filter((r) => jobOf(r) === "721")
      .map((r) => [stateOf(r).state, stateOf(r).flag]);
    expect(states721).toEqual([
      ["UNKNOWN", "lost"],
      ["COMPLETED", undefined],
    ]);
    expect(events(res.out).filter((e) => e.job_id === "721").map((e) => e.to)).toEqual(["RUNNING", "UNKNOWN", "RUNNING", "COMPLETED"]);
    expect(res.err).toMatch(/run1 \(job 721\), reported lost, is listed again \(RUNNING\): tracked again/);
    expect(persisted(state, "721").missingMs).toBeUndefined();
    expect(res.code).toBe(0);
  });

  it("keeps the clock across --once runs (cron), a failed run included, and clears it when the job reappears", async () => {
    const fake = new FakeSlurm();
    const state = tmp();
    const input = ndjson([record(0, "730")]);
    let t = Date.parse(SUBMITTED) + MIN;
    const once = async () => {
      t += 10 * MIN;
      const at = t;
      return runPoll(fake, state, input, { once: true, now: () => new Date(at) }); // default --lost-after: 30 min
    };
    fake.squeue([sq("730", 0, "PENDING")]);
    expect((await once()).code).toBe(3);
    fake.squeue([]);
    const seen: [number | undefined, string | undefined, number][] = [];
    const step = async () => {
      const r = await once();
      seen.push([persisted(state, "730").missingMs, stateOf(runs(r.out)[0]!).flag as string | undefined, r.code]);
      return r;
    };
    await step(); // missing: 0
    fake.fail("squeue", true);
    await step(); // no answer: the stretch breaks
    fake.fail("squeue", false);
    await step(); // a new stretch: 0
    await step(); // 10 min
    await step(); // 20 min
    const lost = await step(); // 30 min: lost
    const again = await step(); // still lost, no second warning
    expect(seen).toEqual([
      [0, undefined, 3],
      [0, undefined, 3],
      [0, undefined, 3],
      [10 * MIN, undefined, 3],
      [20 * MIN, undefined, 3],
      [30 * MIN, "lost", 3],
      [40 * MIN, "lost", 3],
    ]);
    expect(lost.err).toMatch(/run0 \(job 730\) lost: missing from squeue and sacct for 30m 0s/);
    expect(again.err).not.toMatch(/lost:/);
    fake.sacct(ac("730", 0, "COMPLETED"));
    const back = await once();
    expect(stateOf(runs(back.out)[0]!)).toMatchObject({ state: "COMPLETED", terminal: true });
    expect(stateOf(runs(back.out)[0]!).flag).toBeUndefined();
    expect(back.code).toBe(0);
  });

  it("--lost-after off (0) keeps the old behaviour: an absent job is waited for until --timeout", async () => {
    const fake = new FakeSlurm();
    const watch = async (lostAfterMs: number | undefined) => {
      const c = clock();
      const over = { now: c.now, timeoutMs: 120 * MIN, onCycle: () => c.tick(10 * MIN), ...(lostAfterMs === undefined ? {} : { lostAfterMs }) };
      return runPoll(fake, tmp(), ndjson([record(0, "740")]), over);
    };
    const off = await watch(0);
    expect(off.cycles.length).toBe(12); // until --timeout
    expect(off.code).toBe(3);
    expect(stateOf(runs(off.out)[0]!)).toMatchObject({ state: "UNKNOWN", terminal: false });
    expect(stateOf(runs(off.out)[0]!).flag).toBeUndefined();
    expect(off.err).not.toMatch(/lost/);
    // The default (30 min) ends the same watch after four cycles: 0, 10, 20, 30 minutes missing.
    const byDefault = await watch(undefined);
    expect(byDefault.cycles.length).toBe(4);
    expect(stateOf(runs(byDefault.out)[0]!)).toMatchObject({ state: "UNKNOWN", flag: "lost" });
    expect(stateOf(runs(byDefault.out)[0]!).reason).toMatch(/never seen by squeue or sacct \(tracked since /);
  });
});
