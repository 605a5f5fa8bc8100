import { parseState } from "@slurmpipe/core";
import { describe, expect, it } from "vitest";
import { identify } from "../src/identity.ts";
import { ACCOUNTING_GRACE_MS, type AcctView, type Decision, decide } from "../src/machine.ts";
import type { SacctJob, SacctRun } from "../src/sacct.ts";
import type { SqueueRow } from "../src/squeue.ts";
import type { Track } from "../src/track.ts";

const NAME = "lr1e-4.spab12cd34ef";
const SUBMIT = "2026-11-23T10:00:00.000Z";

const track = (over: Partial<Track> = {}): Track => ({
  key: "500",
  queryId: "500",
  trackedAt: SUBMIT,
  runId: "ab12cd34ef99",
  name: "lr1e-4",
  jobName: NAME,
  submittedAt: SUBMIT,
  restarts: 0,
  ...over,
});

const row = (state: string, over: Partial<SqueueRow> = {}): SqueueRow => ({
  keys: ["500"],
  printedId: "500",
  rawId: "500",
  state: parseState(state),
  stateText: state,
  name: NAME,
  submittedAt: SUBMIT,
  ...over,
});

const run = (state: string, over: Partial<SacctRun> = {}): SacctRun => ({
  printedId: "500",
  rawId: "500",
  state: parseState(state),
  stateText: state,
  name: NAME,
  order: 1,
  submittedAt: SUBMIT,
  ...over,
});

const acct = (...runs: SacctRun[]): AcctView => ({ status: "ok", job: { runs, steps: [] } satisfies SacctJob });
const NOT_ASKED: AcctView = { status: "not-asked" };
const at = (s: number) => new Date(Date.parse(SUBMIT) + s * 1000);

/** Applies a decision the way the poller does (the parts the machine relies on). */
function step(t: Track, d: Decision): Track {
  const next = { ...t };
  if (d.seenSubmitAt) next.seenSubmitAt = d.seenSubmitAt;
  if (d.restarts !== undefined) next.restarts = Math.max(t.restarts, d.restarts);
  if (d.requeuePending !== undefined) next.requeuePending = d.requeuePending;
  if (d.finalSeenAt !== undefined) next.finalSeenAt = d.finalSeenAt;
  if (d.state) {
    next.state = d.state;
    if (d.state.source !== "none") {
      next.lastSeenAt = d.state.confirmed_at!;
      next.lastKnownState = d.state.state;
    }
  }
  return next;
}

describe("state machine", () => {
  it("follows RUNNING -> COMPLETING -> PENDING -> RUNNING -> COMPLETED after a requeue, counting one restart and no failure", () => {
    const requeuedSubmit = "2026-11-23T10:00:40.000Z";
    const seq: [SqueueRow, AcctView][] = [
      [row("PENDING"), NOT_ASKED],
      [row("RUNNING", { nodeList: "n1" }), NOT_ASKED],
      [row("COMPLETING", { nodeList: "n1" }), NOT_ASKED],
      [row("PENDING", { reason: "BeginTime", submittedAt: requeuedSubmit }), NOT_ASKED],
      [row("PENDING", { reason: "BeginTime", submittedAt: requeuedSubmit }), NOT_ASKED],
      [row("RUNNING", { submittedAt: requeuedSubmit, nodeList: "n1" }), NOT_ASKED],
      [
        row("COMPLETED", { submittedAt: requeuedSubmit, nodeList: "n1" }),
        acct(run("REQUEUED", { submittedAt: SUBMIT, order: 1 }), run("COMPLETED", { submittedAt: requeuedSubmit, exitCode: "0:0", order: 3 })),
      ],
    ];
    let t = track();
    const states: string[] = [];
    seq.forEach(([r, a], i) => {
      const d = decide(t, [r], a, at(10 * (i + 1)));
      t = step(t, d);
      states.push(t.state!.state);
      if (i < seq.length - 1) expect(t.state!.terminal).toBe(false);
      expect(t.state!.category).not.toBe("failure");
    });
    expect(states).toEqual(["PENDING", "RUNNING", "COMPLETING", "PENDING", "PENDING", "RUNNING", "COMPLETED"]);
    expect(t.restarts).toBe(1);
    expect(t.state).toMatchObject({ state: "COMPLETED", category: "success", terminal: true, exit_code: "0:0", restarts: 1 });
  });

  it("counts a requeue that happened entirely between two polls (the submit time moved on)", () => {
    let t = step(track(), decide(track(), [row("RUNNING")], NOT_ASKED, at(5)));
    t = step(t, decide(t, [row("RUNNING", { submittedAt: "2026-11-23T10:05:00.000Z" })], NOT_ASKED, at(400)));
    expect(t.restarts).toBe(1);
    expect(t.state!.state).toBe("RUNNING");
  });

  it("does not take PREEMPTED or NODE_FAIL as final while slurmctld still lists the job", () => {
    for (const s of ["PREEMPTED", "NODE_FAIL"]) {
      const d = decide(track(), [row(s)], NOT_ASKED, at(5));
      expect(d.state).toMatchObject({ state: s, terminal: false });
      expect(d.state!.category).not.toBe("failure");
      expect(d.needsAcct).toBeUndefined();
    }
  });

  it("takes PREEMPTED as final from sacct's newest run once squeue dropped the job", () => {
    const d = decide(track(), [], acct(run("PREEMPTED", { exitCode: "0:0" })), at(5));
    expect(d.state).toMatchObject({ state: "PREEMPTED", terminal: true, category: "failure", source: "sacct" });
  });

  it("reports a job in neither squeue nor sacct as UNKNOWN, not terminal, confirmed when last seen", () => {
    let t = step(track(), decide(track(), [row("RUNNING")], NOT_ASKED, at(5)));
    const d = decide(t, [], acct(), at(400));
    expect(d.state).toMatchObject({ state: "UNKNOWN", category: "uncertain", terminal: false, source: "none", confirmed_at: at(5).toISOString() });
    expect(d.state!.reason).toMatch(/not found in squeue or sacct \(last seen RUNNING/);
    t = step(t, d);
    expect(t.lastSeenAt).toBe(at(5).toISOString());
    // It may still come back with an answer later.
    const later = decide(t, [], acct(run("COMPLETED", { exitCode: "0:0" })), at(460));
    expect(later.state).toMatchObject({ state: "COMPLETED", terminal: true });
  });

  it("changes nothing when the sacct query failed", () => {
    const t = step(track(), decide(track(), [row("RUNNING")], NOT_ASKED, at(5)));
    const d = decide(t, [], { status: "failed" }, at(400));
    expect(d.state).toBeUndefined();
  });

  it("waits for sacct (exit code, MaxRSS) when squeue shows the end, then gives up after the grace period", () => {
    const t = step(track(), decide(track(), [row("RUNNING")], NOT_ASKED, at(5)));
    const lag = decide(t, [row("FAILED")], acct(run("RUNNING", { name: "allocation" })), at(10));
    expect(lag.state).toBeUndefined();
    expect(lag.needsAcct).toBe(true);
    const t2 = step(t, lag);
    const ok = decide(t2, [row("FAILED")], acct(run("FAILED", { exitCode: "3:0", elapsedS: 4 })), at(12));
    expect(ok.state).toMatchObject({ state: "FAILED", terminal: true, exit_code: "3:0", elapsed_s: 4, source: "squeue" });
    const late = decide(t2, [row("FAILED")], acct(), at(10 + ACCOUNTING_GRACE_MS / 1000 + 1));
    expect(late.state).toMatchObject({ state: "FAILED", terminal: true });
    expect(late.state!.exit_code).toBeUndefined();
  });

  it("does not trust a placeholder `allocation` row or a stale RUNNING row for a job slurmctld dropped", () => {
    const t = step(track(), decide(track(), [row("RUNNING")], NOT_ASKED, at(5)));
    expect(decide(t, [], acct(run("CANCELLED by 0", { name: "allocation" })), at(400)).state).toMatchObject({ state: "UNKNOWN", terminal: false });
    expect(decide(t, [], acct(run("RUNNING")), at(400)).state).toMatchObject({ state: "UNKNOWN", terminal: false });
  });

  it("catches job-id reuse after a controller restart: another name is not our job", () => {
    const t = step(track(), decide(track(), [row("RUNNING")], NOT_ASKED, at(5)));
    const theirs = row("COMPLETED", { name: "someone-else" });
    const d = decide(t, [theirs], acct(run("COMPLETED", { name: "someone-else", exitCode: "0:0" })), at(400));
    expect(d.reused).toMatch(/someone-else/);
    expect(d.state).toMatchObject({ state: "UNKNOWN", terminal: false });
    // An older job in sacct under our id (submitted before ours) is not ours either.
    const noName = track({ jobName: undefined, runId: "short" });
    const old = decide(noName, [], acct(run("FAILED", { name: "wrap", submittedAt: "2026-11-20T10:00:00.000Z" })), at(400));
    expect(old.state!.state).toBe("UNKNOWN");
  });

  it("identifies by tag: same run and attempt is ours, another attempt is not", () => {
    const t = track();
    expect(identify(t, NAME, undefined)).toBe("ours");
    expect(identify(t, "renamed.spab12cd34ef", undefined)).toBe("ours");
    expect(identify(t, "lr1e-4.spab12cd34efr2", undefined)).toBe("not-ours");
    expect(identify(t, "allocation", undefined)).toBe("undecided");
    expect(identify(track({ jobName: undefined }), "x.spab12cd34ef", undefined)).toBe("ours");
    expect(identify(track({ jobName: undefined }), "x.spzzzzzzzzzz", undefined)).toBe("not-ours");
    // A requeue resets the submit time to a later one: still ours.
    expect(identify(track({ jobName: undefined, runId: "x" }), "wrap", "2026-11-23T11:00:00.000Z")).toBe("ours");
  });

  it("tells the --lost-after clock whether both queries answered without the job", () => {
    const t = step(track(), decide(track(), [row("RUNNING")], NOT_ASKED, at(5)));
    expect(decide(t, [row("RUNNING")], NOT_ASKED, at(10)).presence).toBe("present");
    expect(decide(t, [], acct(), at(10)).presence).toBe("absent");
    expect(decide(t, [], { status: "failed" }, at(10)).presence).toBeUndefined();
    // A placeholder row or a stale RUNNING row: accounting knows something, not lost.
    expect(decide(t, [], acct(run("PENDING", { name: "allocation" })), at(10)).presence).toBe("present");
    expect(decide(t, [], acct(run("RUNNING")), at(10)).presence).toBe("present");
    // Another job under our id (ids restart): ours is missing from both.
    expect(decide(t, [row("RUNNING", { name: "someone-else" })], acct(run("RUNNING", { name: "someone-else" })), at(10)).presence).toBe("absent");
  });

  it("flags nothing terminal from COMPLETING", () => {
    expect(decide(track(), [row("COMPLETING")], NOT_ASKED, at(5)).state).toMatchObject({ terminal: false, category: "active" });
  });
});
