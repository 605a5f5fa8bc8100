import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FakeSlurm, SUBMITTED, ac, ndjson, record, runPoll, sq } from "./fake-slurm.ts";

const MIN = 60_000;
const REASON = "BootIdChanged: box rebooted after the job was submitted (boot id aaaa at submission, bbbb now): the job's processes are gone, how its script ended is unknown";

describe("a job whose box rebooted (the local backend's BootIdChanged, bare-box mode)", () => {
  it("is UNKNOWN, flag lost, with the reason, at once (even with --lost-after off), never FAILED; the watch ends, exit 3", async () => {
    const fake = new FakeSlurm();
    const state = mkdtempSync(join(tmpdir(), "sp-poll-reboot-"));
    const log = join(state, "run.log");
    let t = Date.parse(SUBMITTED) + MIN;
    fake.squeue([sq("720", 0, "RUNNING"), sq("721", 1, "RUNNING")]);
    const res = await runPoll(fake, state, ndjson([record(0, "720"), record(1, "721")]), {
      now: () => new Date(t),
      lostAfterMs: 0,
      logFile: log,
      timeoutMs: 60 * MIN, // a safety net only: the watch must end before
      onCycle: (info) => {
        if (info.cycle === 1) {
          // The box rebooted: the local backend lists neither job; accounting has 720's last state and the reason.
          fake.squeue([]);
          fake.sacct([...ac("720", 0, "RUNNING", "0:0", { reason: REASON }), ...ac("721", 1, "COMPLETED")]);
        }
        t += MIN;
      },
    });
    expect(res.cycles).toHaveLength(2);
    expect(res.code).toBe(3);
    const finals = res.out.filter((r) => r.kind !== "event");
    const lost = finals.find((r) => (r.job as { id: string }).id === "720")!.state as Record<string, unknown>;
    expect(lost).toMatchObject({ state: "UNKNOWN", category: "uncertain", terminal: false, flag: "lost", reason: `lost: ${REASON}; no longer waited for` });
    expect(res.out.filter((r) => r.kind === "event" && r.job_id === "720").map((e) => e.to)).toEqual(["RUNNING", "UNKNOWN"]);
    expect(res.err).toMatch(/run0 \(job 720\) lost: BootIdChanged: box rebooted/);
    expect(readFileSync(log, "utf8")).toMatch(/JOB_LOST: run0\nJob ID: 720\nWhy: BootIdChanged: box rebooted/);
  });
});
