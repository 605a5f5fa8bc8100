import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FakeSlurm, ac, ndjson, record, runPoll, slurmTime, sq } from "./fake-slurm.ts";

const tmp = () => mkdtempSync(join(tmpdir(), "sp-poll-blocked-"));
const events = (out: Record<string, unknown>[]) => out.filter((r) => r.kind === "event");
const runs = (out: Record<string, unknown>[]) => out.filter((r) => r.kind !== "event");

// Job 187 failed; 188 was submitted with --dependency=afterok:187 (as this machine's Slurm 22.05.8 shows them).
const upstreamFailed = () => sq("187", 0, "FAILED", { reason: "NonZeroExitCode" });
const dependentBlocked = () => sq("188", 1, "PENDING", { reason: "DependencyNeverSatisfied", dependency: "afterok:187(failed)" });

describe("a job whose dependency can never be satisfied (issue #14 item 2)", () => {
  it("is reported blocked with the upstream job named, gets an event, and ends the watch with exit 1", async () => {
    const fake = new FakeSlurm();
    fake.squeue([upstreamFailed(), sq("188", 1, "PENDING", { reason: "Dependency", dependency: "afterok:187(unfulfilled)" })]);
    fake.sacct(ac("187", 0, "FAILED", "1:0"));
    const log = join(tmp(), "run.log");
    const res = await runPoll(fake, tmp(), ndjson([record(0, "187"), record(1, "188")]), {
      logFile: log,
      // No --timeout: the watch must end by itself.
      onCycle: (c) => {
        if (c.cycle === 1) fake.squeue([upstreamFailed(), dependentBlocked()]);
      },
    });
    expect(res.code).toBe(1);
    const rec = runs(res.out).find((r) => r.name === "run1")!;
    expect(rec.state).toMatchObject({ state: "PENDING", category: "blocked", terminal: false, blocked_by: ["187"], reason: "DependencyNeverSatisfied" });
    const evs = events(res.out).filter((e) => e.name === "run1");
    expect(evs.map((e) => [e.from, e.to, e.category])).toEqual([
      [null, "PENDING", "pending"],
      ["PENDING", "PENDING", "blocked"],
    ]);
    expect(evs[1]).toMatchObject({ blocked_by: ["187"] });
    expect(res.cycles.every((c) => !c.calls.includes("scancel"))).toBe(true);
    const text = readFileSync(log, "utf8");
    expect(text).toMatch(/STATE_CHANGE: run1\nJob ID: 188\nPrevious: PENDING\nCurrent: PENDING \(blocked: its dependency can never be satisfied\)\nReason: DependencyNeverSatisfied\nBlocked by: job 187 \(failed\)\n/);
    expect(text).toMatch(/ALL_COMPLETE: Monitoring finished, NOT all runs succeeded\nSummary: 2 jobs completed - 0 COMPLETED, 2 FAILED \(1 FAILED, 1 BLOCKED\)\nBlocked: run1 \(job 188, waits on failed job 187\): PENDING for good/);
  });

  it("--once: a blocked job gives exit 1 (not 3) when nothing else runs", async () => {
    const fake = new FakeSlurm();
    fake.squeue([upstreamFailed(), dependentBlocked()]);
    fake.sacct(ac("187", 0, "FAILED", "1:0"));
    const res = await runPoll(fake, tmp(), ndjson([record(0, "187"), record(1, "188")]), { once: true });
    expect(res.code).toBe(1);
    expect(runs(res.out).map((r) => (r.state as { category: string }).category)).toEqual(["failure", "blocked"]);
  });

  it("--cancel-unsatisfiable: one scancel for all blocked jobs, on stderr and in the log; the record ends CANCELLED", async () => {
    const fake = new FakeSlurm();
    fake.squeue([upstreamFailed(), dependentBlocked(), sq("189", 2, "PENDING", { reason: "DependencyNeverSatisfied", dependency: "afterok:187(failed)" })]);
    fake.sacct(ac("187", 0, "FAILED", "1:0"));
    const log = join(tmp(), "run.log");
    const res = await runPoll(fake, tmp(), ndjson([record(0, "187"), record(1, "188"), record(2, "189")]), {
      logFile: log,
      cancelUnsatisfiable: true,
      onCycle: (c) => {
        if (c.calls.includes("scancel")) {
          // What Slurm shows after scancel of a pending job (squeue keeps the reason; sacct says who).
          const cancelled = (id: string, i: number) => sq(id, i, "CANCELLED", { reason: "DependencyNeverSatisfied", dependency: "afterok:187(failed)" });
          fake.squeue([upstreamFailed(), cancelled("188", 1), cancelled("189", 2)]);
          fake.sacct([...ac("187", 0, "FAILED", "1:0"), ...ac("188", 1, "CANCELLED by 0", "0:0"), ...ac("189", 2, "CANCELLED by 0", "0:0")]);
        }
      },
    });
    const scancels = fake.calls().filter((c) => c.startsWith("scancel"));
    expect(scancels).toEqual(["scancel 188 189"]);
    expect(res.err).toMatch(/cancelled 2 job\(s\) whose dependency can never be satisfied \(--cancel-unsatisfiable\): run1 \(job 188, waits on failed job 187\), run2 \(job 189/);
    const finals = runs(res.out).filter((r) => r.name !== "run0" && (r.state as { terminal: boolean }).terminal);
    expect(finals.map((r) => [r.name, (r.state as { state: string }).state])).toEqual([
      ["run1", "CANCELLED"],
      ["run2", "CANCELLED"],
    ]);
    expect(res.code).toBe(1);
    const text = readFileSync(log, "utf8");
    expect(text).toMatch(/CANCEL_BLOCKED: 2 jobs whose dependency can never be satisfied\nCommand: scancel 188 189\nJobs: run1 \(job 188, waits on failed job 187\), run2 \(job 189, waits on failed job 187\)\nResult: cancel requested; Slurm reports them CANCELLED\n/);
  });

  it("--cancel-unsatisfiable: a failed scancel is said and not repeated; the watch still ends", async () => {
    const fake = new FakeSlurm();
    fake.squeue([upstreamFailed(), dependentBlocked()]);
    fake.sacct(ac("187", 0, "FAILED", "1:0"));
    fake.fail("scancel", true);
    const res = await runPoll(fake, tmp(), ndjson([record(0, "187"), record(1, "188")]), { cancelUnsatisfiable: true });
    expect(fake.calls().filter((c) => c.startsWith("scancel"))).toEqual(["scancel 188"]);
    expect(res.err).toMatch(/scancel of 1 blocked job\(s\) failed, they stay PENDING/);
    expect(res.code).toBe(1);
  });
});

describe("events carry the category and Slurm's own start and end (issue #14 item 1)", () => {
  it("a RUNNING event has started_at from squeue %S, not the poll time; the end event has ended_at", async () => {
    const fake = new FakeSlurm();
    fake.squeue([sq("300", 0, "RUNNING")]);
    const res = await runPoll(fake, tmp(), ndjson([record(0, "300")]), {
      now: () => new Date("2026-11-23T11:00:00.000Z"),
      onCycle: (c) => {
        if (c.cycle === 1) {
          fake.squeue([sq("300", 0, "COMPLETED")]);
          fake.sacct(ac("300", 0, "COMPLETED"));
        }
      },
    });
    const [running, completed] = events(res.out);
    // sq()/ac() print 10:00:05 as the start and 10:00:12 as sacct's end (local time, as Slurm does).
    expect(running).toMatchObject({ to: "RUNNING", category: "active", started_at: "2026-11-23T10:00:05.000Z", at: "2026-11-23T11:00:00.000Z" });
    expect(running!.ended_at).toBeUndefined();
    expect(completed).toMatchObject({ to: "COMPLETED", category: "success", started_at: "2026-11-23T10:00:05.000Z", ended_at: "2026-11-23T10:00:12.000Z" });
    expect((runs(res.out)[0]!.state as { started_at: string }).started_at).toBe("2026-11-23T10:00:05.000Z");
  });

  it("a pending job's expected start (%S of a PENDING job) and N/A are not a start", async () => {
    const fake = new FakeSlurm();
    const line = sq("301", 0, "PENDING", { reason: "BeginTime" }).split("|");
    line[9] = slurmTime("2026-11-24T00:00:00.000Z"); // squeue prints the expected start of a pending job
    fake.squeue([line.join("|")]);
    const res = await runPoll(fake, tmp(), ndjson([record(0, "301")]), { once: true });
    const [ev] = events(res.out);
    expect(ev).toMatchObject({ to: "PENDING", category: "pending" });
    expect(ev!.started_at).toBeUndefined();
    expect((runs(res.out)[0]!.state as { started_at?: string }).started_at).toBeUndefined();
  });
});

describe("a job blocked in an earlier poll", () => {
  it("a later watch ends on it at once and writes its record", async () => {
    const fake = new FakeSlurm();
    const state = tmp();
    fake.squeue([upstreamFailed(), dependentBlocked()]);
    fake.sacct(ac("187", 0, "FAILED", "1:0"));
    const input = ndjson([record(0, "187"), record(1, "188")]);
    expect((await runPoll(fake, state, input)).code).toBe(1);
    const again = await runPoll(fake, state, input);
    expect(again.code).toBe(1);
    expect(events(again.out)).toEqual([]);
    expect(runs(again.out).map((r) => [r.name, (r.state as { category: string }).category])).toEqual([
      ["run0", "failure"],
      ["run1", "blocked"],
    ]);
  });
});
