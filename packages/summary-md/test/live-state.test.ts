import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run, tempDir, writeNdjson } from "./helpers.ts";

// Issue #14 item 1: during a watch slurm-poll writes only events; the run records come at the end.
// A table refreshed from `submitted.ndjson poll.ndjson` must show what the newest of them says.
const TABLE = "| Run Name | Status | Job ID | Started | Completed | Notes |\n|---|---|---|---|---|---|\n| r1 | - | - | - | - | - |\n";
const submitted = { id: "id1", name: "r1", job: { id: "501", attempt: 1, submitted_at: "2026-01-01T10:00:00Z" } };
const running = { kind: "event", run_id: "id1", name: "r1", job_id: "501", from: "PENDING", to: "RUNNING", category: "active", at: "2026-01-01T10:05:00Z", started_at: "2026-01-01T10:01:07Z" };

async function rowAfter(...files: unknown[][]): Promise<string> {
  const dir = tempDir();
  const doc = join(dir, "X.md");
  writeFileSync(doc, TABLE);
  const inputs = files.map((records, i) => writeNdjson(join(dir, `in${i}.ndjson`), records));
  const r = await run({ inputs, update: doc, now: "2026-01-01T10:06:00Z" }, { cwd: dir });
  expect(r.code, r.stderr).toBe(0);
  return readFileSync(doc, "utf8").split("\n")[2]!;
}

describe("the state comes from the newest record or event", () => {
  it("a submitted run with a RUNNING event is RUNNING since Slurm's start time, not the poll time", async () => {
    expect(await rowAfter([submitted], [running])).toBe("| r1 | RUNNING | 501 | 2026-01-01 10:01:07 | - | - |");
  });

  it("an old event without Slurm's start time: RUNNING with Started left empty, never the poll time", async () => {
    const { category: _c, started_at: _s, ...old } = running;
    expect(await rowAfter([submitted], [old])).toBe("| r1 | RUNNING | 501 | - | - | - |");
  });

  it("a later event beats an earlier record's state, and an older event loses to a newer state, in any file order", async () => {
    const polled = { ...submitted, state: { state: "RUNNING", category: "active", terminal: false, started_at: "2026-01-01T10:01:07Z", confirmed_at: "2026-01-01T10:04:00Z" } };
    const ended = {
      ...running,
      from: "RUNNING",
      to: "FAILED",
      category: "failure",
      at: "2026-01-01T10:05:30Z",
      exit_code: "1:0",
      ended_at: "2026-01-01T10:05:21Z",
    };
    const want = "| r1 | FAILED | 501 | 2026-01-01 10:01:07 | 2026-01-01 10:05:21 | exit 1:0 |";
    expect(await rowAfter([polled], [ended])).toBe(want);
    expect(await rowAfter([ended], [polled])).toBe(want);
    const final = { ...submitted, state: { state: "COMPLETED", category: "success", terminal: true, exit_code: "0:0", started_at: "2026-01-01T10:01:07Z", ended_at: "2026-01-01T10:09:00Z", confirmed_at: "2026-01-01T10:09:30Z" } };
    const done = "| r1 | COMPLETED | 501 | 2026-01-01 10:01:07 | 2026-01-01 10:09:00 | - |";
    expect(await rowAfter([final], [running])).toBe(done);
    expect(await rowAfter([running], [final])).toBe(done);
  });

  it("an old PENDING event with reason DependencyNeverSatisfied (no category) is BLOCKED", async () => {
    const blocked = { kind: "event", run_id: "id1", job_id: "501", from: null, to: "PENDING", at: "2026-01-01T10:05:00Z", reason: "DependencyNeverSatisfied" };
    expect(await rowAfter([submitted], [blocked])).toBe("| r1 | BLOCKED | 501 | - | - | blocked by a failed dependency |");
  });
});

describe("an event of the same state as the record", () => {
  it("keeps the record's richer state (exit code, elapsed) even when the event is a moment later", async () => {
    const final = { ...submitted, state: { state: "FAILED", category: "failure", terminal: true, exit_code: "137:0", elapsed_s: 65, started_at: "2026-01-01T10:01:07Z", ended_at: "2026-01-01T10:02:12Z", confirmed_at: "2026-01-01T10:03:00Z" } };
    const event = { ...running, from: "RUNNING", to: "FAILED", category: "failure", at: "2026-01-01T10:03:00.100Z", started_at: "2026-01-01T10:01:07Z" };
    expect(await rowAfter([final], [event])).toBe("| r1 | FAILED | 501 | 2026-01-01 10:01:07 | 2026-01-01 10:02:12 | exit 137:0 |");
  });
});
