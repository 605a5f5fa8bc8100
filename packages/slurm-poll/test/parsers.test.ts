import { describe, expect, it } from "vitest";
import { SACCT_FIELDS, newestRun, parseSacct, peakRss, sacctArgs } from "../src/sacct.ts";
import { SlurmOutputError } from "@slurmpipe/core";
import { SQUEUE_FIELDS, SqueueIndex, parseSqueue, squeueArgs } from "../src/squeue.ts";
import { parseJobId } from "@slurmpipe/core";
import { jobKey, keysOf, trackedId } from "../src/ids.ts";

// Lines in the field order slurm-poll asks for, with values copied from slurm-facts.md §3-4 and
// from this machine's Slurm 22.05.8.
const SQ = {
  pendingArray: "137_[4-10%2]|137|137|4-10%2|PENDING|Resources|0:00|UNLIMITED||N/A|N/A|2026-11-22T23:53:31|0|(null)|arr",
  cutArray: "175_[1-3,10,20-22%|175|175|1-3,10,20-22%1|PENDING|JobArrayTaskLimit|0:00|UNLIMITED||N/A|N/A|2026-11-22T23:53:31|0|(null)|arr",
  running: "135|135|135|N/A|RUNNING|None|0:04|1:00|localhost|2026-11-22T23:53:32|2026-11-22T23:54:32|2026-11-22T23:53:31|0|(null)|sigtest",
  task: "2_0|4|2|0|RUNNING|None|0:02|UNLIMITED|localhost|2026-11-23T15:09:16|NONE|2026-11-23T15:09:16|8000M|(null)|sp-poll-arr",
  completing: "147|147|147|N/A|COMPLETING|None|0:03|UNLIMITED|localhost|2026-11-22T23:56:05|NONE|2026-11-22T23:56:05|0|(null)|rq",
  failed: "167|167|167|N/A|FAILED|NonZeroExitCode|0:00|UNLIMITED|localhost|2026-11-22T23:53:40|2026-11-22T23:53:40|2026-11-22T23:53:39|0|(null)|bad",
  // A dependent job whose afterok upstream failed (this machine, Slurm 22.05.8).
  blocked: "188|188|188|N/A|PENDING|DependencyNeverSatisfied|0:00|UNLIMITED||N/A|N/A|2026-12-03T07:24:20|0|afterok:187(failed)|wrap",
  pipeName: "133|133|133|N/A|PENDING|Priority|0:00|UNLIMITED||N/A|N/A|2026-11-22T23:53:31|0|(null)|name with spaces,comma|pipe",
};

describe("squeue output", () => {
  it("asks for a list (a single unknown id would fail), every state, one line per task", () => {
    expect(squeueArgs(["42"])).toEqual(["-h", "-r", "-t", "all", "-j", "42,42", "-o", SQUEUE_FIELDS.join("|")]);
    expect(squeueArgs(["1", "2", "1"])[5]).toBe("1,2");
  });

  it("expands a pending array record into its tasks and keeps the throttle out of the keys", () => {
    const { rows } = parseSqueue(`${SQ.pendingArray}\n`);
    expect(rows[0]!.keys).toEqual(["137_4", "137_5", "137_6", "137_7", "137_8", "137_9", "137_10"]);
    expect(rows[0]!.state.state).toBe("PENDING");
    expect(rows[0]!.reason).toBe("Resources");
    expect(rows[0]!.startedAt).toBeUndefined(); // N/A
  });

  it("skips an id cut by a width limit instead of crashing or guessing", () => {
    const { rows, skipped } = parseSqueue(`${SQ.cutArray}\n${SQ.running}\n`);
    expect(rows.map((r) => r.keys)).toEqual([["135"]]);
    expect(skipped[0]).toMatch(/175_\[1-3,10,20-22%/);
  });

  it("reads times, limits, nodes, memory and a task's raw id", () => {
    const { rows } = parseSqueue(`${SQ.running}\n${SQ.task}\n`);
    const [r, t] = rows;
    expect(r!.elapsedS).toBe(4);
    expect(r!.timeLimitS).toBe(60);
    expect(r!.nodeList).toBe("localhost");
    expect(r!.startedAt).toBe(new Date("2026-11-22T23:53:32").toISOString());
    expect(t!.keys).toEqual(["2_0"]);
    expect(t!.rawId).toBe("4");
    expect(t!.arrayJobId).toBe("2");
    expect(t!.endedAt).toBeUndefined(); // NONE
    expect(t!.reqMemBytes).toBe(8000 * 1024 ** 2);
  });

  it("treats COMPLETING as not final and keeps a name that contains the separator", () => {
    const { rows } = parseSqueue(`${SQ.completing}\n${SQ.pipeName}\n`);
    expect(rows[0]!.state).toMatchObject({ state: "COMPLETING", terminal: false });
    expect(rows[1]!.name).toBe("name with spaces,comma|pipe");
  });

  it("refuses output with the wrong number of fields (a different format means nothing can be trusted)", () => {
    expect(() => parseSqueue("135 debug sigtest root R 0:04 1 localhost\n")).toThrow(SlurmOutputError);
  });

  it("indexes the answer by job key and parses a job's rows only when asked, as parseSqueue does", () => {
    const reused = SQ.running.replace("|sigtest", "|someone-else");
    const text = `${SQ.pendingArray}\n${SQ.cutArray}\n${SQ.running}\n\n${SQ.task}\n${reused}\n`;
    const index = new SqueueIndex(text);
    expect(index.skipped).toEqual(parseSqueue(text).skipped);
    expect(index.rows("137_9")).toEqual([parseSqueue(`${SQ.pendingArray}\n`).rows[0]]);
    expect(index.rows("135")!.map((r) => r.name)).toEqual(["sigtest", "someone-else"]); // squeue's order
    expect(index.rows("2_0")).toEqual(parseSqueue(`${SQ.task}\n`).rows);
    expect(index.rows("175_1")).toBeUndefined(); // its line was skipped
    expect(index.rows("999")).toBeUndefined();
  });

  it("reads %E, the dependency (the upstream job of a DependencyNeverSatisfied); (null) is no dependency", () => {
    const { rows } = parseSqueue(`${SQ.blocked}\n${SQ.running}\n`);
    expect(rows[0]).toMatchObject({ reason: "DependencyNeverSatisfied", dependency: "afterok:187(failed)", name: "wrap" });
    expect(rows[1]!.dependency).toBeUndefined();
  });

  it("shares the values an array's tasks repeat, and still fails at once on a malformed line", () => {
    const lines = Array.from({ length: 3 }, (_, i) => `90_${i}|90|90|${i}|PENDING|JobHeldUser|0:00|10:00||N/A|N/A|2026-11-23T18:07:45|4G|(null)|arr`);
    const index = new SqueueIndex(`${lines.join("\n")}\n`);
    const [a, b] = [index.rows("90_0")![0]!, index.rows("90_2")![0]!];
    expect(a.state).toBe(b.state);
    expect(a).toMatchObject({ timeLimitS: 600, reqMemBytes: 4 * 1024 ** 3, submittedAt: new Date("2026-11-23T18:07:45").toISOString() });
    expect(() => new SqueueIndex(`${lines[0]}\n135|135|RUNNING\n`)).toThrow(SlurmOutputError);
  });
});

const AC = (fields: Partial<Record<(typeof SACCT_FIELDS)[number], string>>) =>
  SACCT_FIELDS.map((f) => fields[f] ?? "").join("|");

describe("sacct output", () => {
  it("always passes an explicit window and array job ids", () => {
    const args = sacctArgs(["200", "201", "200"], new Date(2026, 10, 21, 23, 50, 0));
    expect(args).toEqual(["-P", "-n", "-D", "-j", "200,201", "-S", "2026-11-21T23:50:00", "-E", "now", "-o", SACCT_FIELDS.join(",")]);
  });

  it("expands `200_[1,3]` (tasks cancelled before they started) and reads `CANCELLED by 0`", () => {
    const out = [
      AC({ JobID: "200_2", JobIDRaw: "201", State: "COMPLETED", ExitCode: "0:0", JobName: "arr" }),
      AC({ JobID: "200_[1,3]", JobIDRaw: "200", State: "CANCELLED by 0", ExitCode: "0:0", Start: "None", NodeList: "None assigned", JobName: "arr" }),
    ].join("\n");
    const { jobs } = parseSacct(out);
    expect([...jobs.keys()].sort()).toEqual(["200_1", "200_2", "200_3"]);
    const run = jobs.get("200_3")!.runs[0]!;
    expect(run.state).toMatchObject({ state: "CANCELLED", cancelledBy: 0, terminal: true });
    expect(run.startedAt).toBeUndefined();
    expect(run.nodeList).toBeUndefined();
  });

  it("picks the newest run of a requeued job (-D duplicates) and the steps' peak MaxRSS", () => {
    const out = [
      AC({ JobID: "147", JobIDRaw: "147", State: "REQUEUED", ExitCode: "0:0", Submit: "2026-11-22T23:56:05", Start: "2026-11-22T23:56:08", End: "2026-11-22T23:56:32", JobName: "rq" }),
      AC({ JobID: "147.batch", JobIDRaw: "147.batch", State: "CANCELLED", ExitCode: "0:15", Start: "2026-11-22T23:56:08", MaxRSS: "999999K", JobName: "batch" }),
      AC({ JobID: "147", JobIDRaw: "147", State: "CANCELLED by 0", ExitCode: "0:0", Submit: "2026-11-22T23:56:32", Start: "2026-11-22T23:58:35", End: "2026-11-22T23:58:54", Elapsed: "00:00:19", ReqMem: "1G", Timelimit: "00:05:00", JobName: "rq" }),
      AC({ JobID: "147.batch", JobIDRaw: "147.batch", State: "CANCELLED", ExitCode: "0:15", Start: "2026-11-22T23:58:35", MaxRSS: "2992K", JobName: "batch" }),
      AC({ JobID: "147.0", JobIDRaw: "147.0", State: "CANCELLED", ExitCode: "0:15", Start: "2026-11-22T23:58:36", MaxRSS: "322176K", JobName: "python" }),
    ].join("\n");
    const job = parseSacct(out).jobs.get("147")!;
    expect(job.runs).toHaveLength(2);
    const newest = newestRun(job.runs)!;
    expect(newest.state.state).toBe("CANCELLED");
    expect(newest.elapsedS).toBe(19);
    expect(newest.reqMemBytes).toBe(1024 ** 3);
    expect(newest.timeLimitS).toBe(300);
    // The older run's 999999K step is not this run's.
    expect(peakRss(job.steps, newest.startedAt)).toBe(322176 * 1024);
  });

  it("keeps the `allocation` placeholder name (the caller decides it proves nothing) and FAILED 3:0", () => {
    const out = [
      AC({ JobID: "197", JobIDRaw: "197", State: "PENDING", ExitCode: "0:0", JobName: "allocation" }),
      AC({ JobID: "167", JobIDRaw: "167", State: "FAILED", ExitCode: "3:0", Reason: "None", JobName: "bad" }),
      AC({ JobID: "167.batch", JobIDRaw: "167.batch", State: "FAILED", ExitCode: "3:0", JobName: "batch" }),
    ].join("\n");
    const { jobs } = parseSacct(out);
    expect(jobs.get("197")!.runs[0]!.name).toBe("allocation");
    const bad = jobs.get("167")!.runs[0]!;
    expect(bad.exitCode).toBe("3:0");
    expect(bad.reason).toBeUndefined();
    expect(jobs.get("167")!.steps).toHaveLength(1);
  });

  it("never crashes on odd ids: het components, cut task lists, garbage", () => {
    const out = [
      AC({ JobID: "300+1", JobIDRaw: "301", State: "COMPLETED", ExitCode: "0:0", JobName: "het" }),
      AC({ JobID: "137_[8-10%2...", JobIDRaw: "137", State: "PENDING", JobName: "arr" }),
      AC({ JobID: "abc", JobIDRaw: "abc", State: "PENDING", JobName: "x" }),
    ].join("\n");
    const { jobs, skipped } = parseSacct(out);
    expect([...jobs.keys()]).toEqual(["300+1"]);
    expect(skipped).toHaveLength(2);
  });
});

describe("job ids of records", () => {
  it("tracks every form a record can carry", () => {
    expect(trackedId({ id: "123" })).toEqual({ key: "123", queryId: "123" });
    expect(trackedId({ id: "123_4" })).toEqual({ key: "123_4", queryId: "123", arrayJobId: "123", arrayTask: 4 });
    expect(trackedId({ id: "131", array_job_id: "129", array_task: 2 })).toMatchObject({ key: "129_2", queryId: "129" });
    expect(trackedId({ id: "123;cluster" })).toMatchObject({ key: "123" });
    expect(trackedId({ id: "123_[1-3]" })).toHaveProperty("error");
    expect(trackedId({ id: "123.batch" })).toHaveProperty("error");
    expect(trackedId({ id: "nope" })).toHaveProperty("error");
    expect(keysOf("155_[1000]")).toEqual(["155_1000"]);
    // Plain ids are taken as printed; anything else goes through the parser, with the same keys.
    for (const printed of ["123", "123_4", "123_0", "0123_4", "123_04", " 123_4", "123+1", "99999999999999999999"]) {
      const id = parseJobId(printed);
      expect(keysOf(printed)).toEqual([jobKey(id)]);
    }
  });
});
