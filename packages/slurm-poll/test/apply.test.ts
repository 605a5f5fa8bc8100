import { type JobState, StringPool } from "@slurmpipe/core";
import { describe, expect, it } from "vitest";
import { type ApplyRules, applyDecision, earlyCheckDue } from "../src/apply.ts";
import type { Decision } from "../src/machine.ts";
import type { Track } from "../src/track.ts";

const NOW = new Date("2026-11-23T10:10:00.000Z");
const rules: ApplyRules = { lostAfterMs: 30 * 60_000 };
const track = (over: Partial<Track> = {}): Track => ({ key: "500", queryId: "500", trackedAt: "2026-11-23T10:00:00.000Z", runId: "r1", restarts: 0, ...over });
const st = (state: string, over: Partial<JobState> = {}): JobState => {
  const category = state === "FAILED" ? "failure" : state === "COMPLETED" ? "success" : state === "RUNNING" ? "active" : state === "UNKNOWN" ? "uncertain" : "pending";
  const terminal = state === "FAILED" || state === "COMPLETED";
  return { state, category, terminal, confirmed_at: NOW.toISOString(), source: state === "UNKNOWN" ? "none" : "squeue", restarts: 0, ...over };
};
const kinds = (effects: { kind: string }[]) => effects.map((e) => e.kind);

describe("applyDecision (pure: the track changes, the effects say what to report)", () => {
  it("a new state: an event; an unchanged one: no event, the stored object kept, its time moved on", () => {
    const t = track();
    expect(kinds(applyDecision(t, { state: st("PENDING"), presence: "present" }, NOW, rules, new StringPool()))).toEqual(["changed"]);
    const kept = t.state;
    const later = new Date(NOW.getTime() + 60_000);
    expect(applyDecision(t, { state: st("PENDING", { confirmed_at: later.toISOString() }), presence: "present" }, later, rules, new StringPool())).toEqual([]);
    expect(t.state).toBe(kept);
    expect(t.state!.confirmed_at).toBe(later.toISOString());
    expect(t.lastKnownState).toBe("PENDING");
  });

  it("a terminal state: the event, then its record is due; no state: nothing but the track's fields", () => {
    const t = track({ state: st("RUNNING") });
    expect(kinds(applyDecision(t, { state: st("COMPLETED"), presence: "present", rawId: "500" }, NOW, rules, new StringPool()))).toEqual(["changed", "record-due"]);
    expect(t.rawId).toBe("500");
    const u = track();
    expect(applyDecision(u, { restarts: 2, finalSeenAt: NOW.toISOString() }, NOW, rules, new StringPool())).toEqual([]);
    expect(u).toMatchObject({ restarts: 2, finalSeenAt: NOW.toISOString() });
  });

  it("a reused id and --max-requeues are reported once per job, the flag stays", () => {
    const t = track({ state: st("PENDING") });
    const d = (): Decision => ({ state: st("PENDING", { restarts: 3 }), restarts: 3, presence: "present", reused: "sacct shows job 500 under another name" });
    const first = applyDecision(t, d(), NOW, { ...rules, maxRequeues: 2 }, new StringPool());
    expect(first).toEqual([
      { kind: "reused", note: "sacct shows job 500 under another name" },
      { kind: "requeue-limit", restarts: 3, limit: 2 },
    ]); // the state word did not change: no event

    expect(applyDecision(t, d(), NOW, { ...rules, maxRequeues: 2 }, new StringPool())).toEqual([]);
    expect(t.state!.flag).toBe("too_many_requeues");
  });

  it("lost: flagged and its record due (newly only the first time); listed again: found again", () => {
    const t = track({ state: st("UNKNOWN"), missingMs: 31 * 60_000, missingCheckedAt: new Date(NOW.getTime() - 60_000).toISOString() });
    const absent = (): Decision => ({ state: st("UNKNOWN", { reason: "not found in squeue or sacct" }), presence: "absent" });
    const lost = applyDecision(t, absent(), NOW, rules, new StringPool());
    expect(lost).toEqual([{ kind: "lost", state: expect.objectContaining({ flag: "lost" }), newly: true }, { kind: "record-due" }]);
    expect(t.state!.flag).toBe("lost");
    expect(applyDecision(t, absent(), NOW, rules, new StringPool())).toEqual([{ kind: "lost", state: expect.anything(), newly: false }, { kind: "record-due" }]);
    expect(kinds(applyDecision(t, { state: st("RUNNING"), presence: "present" }, NOW, rules, new StringPool()))).toEqual(["changed", "found-again"]);
    expect(t.missingMs).toBeUndefined();
  });

  it("an early failure: the caller reads the tail first (earlyCheckDue), once per job", () => {
    const failed = (): Decision => ({ state: st("FAILED", { elapsed_s: 3, exit_code: "1:0" }), presence: "present" });
    const r = { ...rules, earlyMs: 60_000 };
    const t = track({ state: st("RUNNING") });
    expect(earlyCheckDue(t, failed(), undefined)).toBe(false);
    expect(earlyCheckDue(t, { state: st("FAILED", { elapsed_s: 120 }) }, r.earlyMs)).toBe(false);
    expect(earlyCheckDue(t, failed(), r.earlyMs)).toBe(true);
    expect(() => applyDecision(track(), failed(), NOW, r, new StringPool())).toThrow(/stderr was not read/);
    const effects = applyDecision(t, failed(), NOW, r, new StringPool(), { path: "/x/err", tail: ["boom"] });
    expect(kinds(effects)).toEqual(["early-failure", "changed", "record-due"]);
    expect(t.state!.early_failure).toEqual({ elapsed_s: 3, path: "/x/err", tail: ["boom"] });
    expect(earlyCheckDue(t, failed(), r.earlyMs)).toBe(false); // checked
  });

  it("takes the strings many tracks repeat from the pool", () => {
    const pool = new StringPool();
    const a = track();
    const b = track({ key: "501" });
    applyDecision(a, { state: st("PENDING", { reason: ["Prio", "rity"].join("") }), presence: "present" }, NOW, rules, pool);
    applyDecision(b, { state: st("PENDING", { reason: `${"Prior"}ity` }), presence: "present" }, NOW, rules, pool);
    expect(a.state!.reason).toBe("Priority");
    expect(pool.get("Priority")).toBe(b.state!.reason);
  });
});
