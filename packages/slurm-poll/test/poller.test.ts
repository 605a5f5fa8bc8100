import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { Ledger, LockedError, lockStateDir } from "@slurmpipe/core";
import { describe, expect, it } from "vitest";
import { FakeSlurm, SUBMITTED, ac, ndjson, record, runPoll, sq } from "./fake-slurm.ts";

const tmp = () => mkdtempSync(join(tmpdir(), "sp-poll-state-"));
const events = (out: Record<string, unknown>[]) => out.filter((r) => r.kind === "event");
const runs = (out: Record<string, unknown>[]) => out.filter((r) => r.kind !== "event");
const stateOf = (r: Record<string, unknown>) => (r.state as { state: string } | undefined)?.state;

describe("cost: one squeue and at most one sacct per cycle", () => {
  it("polls 1,000 jobs with at most 2 Slurm calls per cycle", async () => {
    const fake = new FakeSlurm();
    const N = 1000;
    const ids = Array.from({ length: N }, (_, i) => String(10_000 + i));
    fake.squeue(ids.map((id, i) => sq(id, i, "PENDING", { reason: "Priority" })));
    const script = [
      () => {
        // Half run, half already ended and were purged from squeue (sacct knows them).
        fake.squeue(ids.filter((_, i) => i % 2 === 0).map((id, i) => sq(id, i * 2, "RUNNING")));
        fake.sacct(ids.flatMap((id, i) => (i % 2 === 1 ? ac(id, i, i % 4 === 1 ? "COMPLETED" : "FAILED", i % 4 === 1 ? "0:0" : "1:0") : [])));
      },
      () => {
        fake.squeue(ids.filter((_, i) => i % 2 === 0).map((id, i) => sq(id, i * 2, "COMPLETED")));
        fake.sacct(ids.flatMap((id, i) => ac(id, i, i % 2 === 0 ? "COMPLETED" : i % 4 === 1 ? "COMPLETED" : "FAILED", i % 4 === 3 ? "1:0" : "0:0")));
      },
    ];
    const res = await runPoll(fake, tmp(), ndjson(ids.map((id, i) => record(i, id))), {
      onCycle: (c) => script[c.cycle - 1]?.(),
    });
    const busy = res.cycles;
    expect(busy.length).toBe(3);
    for (const c of busy) {
      expect(c.calls.filter((x) => x === "squeue")).toHaveLength(1);
      expect(c.calls.length).toBeLessThanOrEqual(2);
    }
    // Counted at the PATH wrapper too: exactly what the cycles report, never more.
    const calls = fake.calls();
    expect(calls.length).toBe(busy.reduce((n, c) => n + c.calls.length, 0));
    expect(calls[0]).toMatch(/^squeue -h -r -t all -j 10000,10001,.*,10999 -o /);
    expect(calls.filter((c) => c.startsWith("sacct"))[0]).toMatch(/-D -j 10001,10003,.* -S 2026-11-2\dT\d\d:\d\d:\d\d -E now/);
    const finals = runs(res.out);
    expect(finals).toHaveLength(N);
    expect(finals.filter((r) => stateOf(r) === "FAILED")).toHaveLength(N / 4);
    expect(res.code).toBe(1);
    // One event per change: first sight, then each move.
    expect(events(res.out).length).toBe(N + N / 2 + N);
  });
});

describe("honesty", () => {
  it("a failed query changes nothing; polling resumes by itself", async () => {
    const fake = new FakeSlurm();
    fake.squeue([sq("700", 0, "RUNNING"), sq("701", 1, "RUNNING")]);
    const script: Record<number, () => void> = {
      1: () => fake.fail("squeue", true),
      3: () => {
        fake.fail("squeue", false);
        fake.squeue([sq("700", 0, "RUNNING")]); // 701 left squeue...
        fake.fail("sacct", true); // ...and slurmdbd is down
      },
      4: () => fake.fail("sacct", false), // sacct now answers: 701 has no record yet
      5: () => {
        fake.squeue([sq("700", 0, "COMPLETED")]);
        fake.sacct([...ac("700", 0, "COMPLETED"), ...ac("701", 1, "COMPLETED")]);
      },
    };
    const res = await runPoll(fake, tmp(), ndjson([record(0, "700"), record(1, "701")]), { onCycle: (c) => script[c.cycle]?.() });
    expect(res.cycles.map((c) => c.outcome)).toEqual(["ok", "failed", "failed", "failed", "ok", "ok"]);
    const to701 = events(res.out)
      .filter((e) => e.job_id === "701")
      .map((e) => e.to);
    expect(to701).toEqual(["RUNNING", "UNKNOWN", "COMPLETED"]);
    const unknown = events(res.out).find((e) => e.to === "UNKNOWN")!;
    expect(unknown.from).toBe("RUNNING");
    expect(res.err).toMatch(/squeue failed; nothing changes/);
    expect(res.err).toMatch(/backing off/);
    expect(res.code).toBe(0);
  });

  it("a job whose id now names someone else's job is not reported with that job's state", async () => {
    const fake = new FakeSlurm();
    fake.squeue([sq("42", 0, "COMPLETED", { name: "someone-elses-job" })]);
    fake.sacct(ac("42", 0, "COMPLETED", "0:0", { name: "someone-elses-job" }));
    const res = await runPoll(fake, tmp(), ndjson([record(0, "42")]), { once: true });
    expect(res.err).toMatch(/not our job/);
    expect(stateOf(runs(res.out)[0]!)).toBe("UNKNOWN");
    expect(res.code).toBe(3);
  });
});

describe("persistence", () => {
  it("a restarted poll continues without repeating events", async () => {
    const fake = new FakeSlurm();
    const state = tmp();
    const input = ndjson([record(0, "800"), record(1, "801")]);
    fake.squeue([sq("800", 0, "RUNNING"), sq("801", 1, "PENDING")]);
    const first = await runPoll(fake, state, input, { once: true });
    expect(events(first.out).map((e) => e.to)).toEqual(["RUNNING", "PENDING"]);
    expect(runs(first.out).map(stateOf)).toEqual(["RUNNING", "PENDING"]);
    expect(first.code).toBe(3);

    const again = await runPoll(fake, state, input, { once: true });
    expect(events(again.out)).toEqual([]);
    expect(runs(again.out).map(stateOf)).toEqual(["RUNNING", "PENDING"]); // --once: every run's record

    fake.squeue([sq("800", 0, "COMPLETED"), sq("801", 1, "RUNNING")]);
    fake.sacct(ac("800", 0, "COMPLETED"));
    const third = await runPoll(fake, state, input, { once: true });
    expect(events(third.out).map((e) => [e.job_id, e.from, e.to])).toEqual([
      ["800", "RUNNING", "COMPLETED"],
      ["801", "PENDING", "RUNNING"],
    ]);
    // A watch started now re-emits the finished run's record (downstream needs it), not its events.
    fake.squeue([sq("801", 1, "COMPLETED")]);
    fake.sacct(ac("801", 1, "COMPLETED"));
    const watch = await runPoll(fake, state, input);
    expect(events(watch.out).map((e) => [e.job_id, e.to])).toEqual([["801", "COMPLETED"]]);
    expect(runs(watch.out).map((r) => [(r.job as { id: string }).id, stateOf(r)])).toEqual([
      ["800", "COMPLETED"],
      ["801", "COMPLETED"],
    ]);
    expect(watch.code).toBe(0);
  });

  it("reads slurm-submit's ledger (latest attempt per run) and refuses a second poller on the same state", async () => {
    const fake = new FakeSlurm();
    const state = tmp();
    const ledger = new Ledger(state);
    const r1 = record(0, "900");
    const r1b = { ...record(0, "905"), job: { ...(record(0, "905").job as object), attempt: 2, name: "run0.sp000000abcdr2" } };
    await ledger.append({ t: "intent", run_id: "000000abcdef", attempt: 1, job_name: "x", at: SUBMITTED, argv: [] });
    await ledger.append({ t: "submitted", run_id: "000000abcdef", attempt: 1, job_id: "900", job_name: "x", at: SUBMITTED, record: r1 });
    await ledger.append({ t: "submitted", run_id: "000000abcdef", attempt: 2, job_id: "905", job_name: "x", at: SUBMITTED, record: r1b });
    await ledger.append({ t: "reconciled", run_id: "000001abcdef", attempt: 1, job_id: "901", job_name: "x", at: SUBMITTED, record: record(1, "901") });
    await ledger.append({ t: "failed", run_id: "000002abcdef", attempt: 1, at: SUBMITTED, message: "invalid partition" });
    fake.squeue([sq("905", 0, "PENDING", { name: "run0.sp000000abcdr2" }), sq("901", 1, "RUNNING")]);
    const release = await lockStateDir(join(state, "poll"));
    await expect(runPoll(fake, state, null, { ledger: true, once: true })).rejects.toBeInstanceOf(LockedError);
    await release();
    const res = await runPoll(fake, state, null, { ledger: true, once: true });
    expect(runs(res.out).map((r) => [(r.job as { id: string }).id, stateOf(r)])).toEqual([
      ["905", "PENDING"],
      ["901", "RUNNING"],
    ]);
    expect(fake.calls().at(-1)).toMatch(/-j 905,901 /);
  });
});

describe("state kept between cycles", () => {
  it("a state unchanged but for its time is confirmed anew each cycle, in the record and in jobs.ndjson", async () => {
    const fake = new FakeSlurm();
    const state = tmp();
    let t = Date.parse(SUBMITTED) + 60_000;
    fake.squeue([sq("950", 0, "PENDING", { reason: "Priority" })]);
    const res = await runPoll(fake, state, ndjson([record(0, "950")]), {
      now: () => new Date(t),
      timeoutMs: 3 * 60_000,
      onCycle: () => {
        t += 60_000;
      },
    });
    expect(res.cycles).toHaveLength(3);
    expect(events(res.out).map((e) => e.to)).toEqual(["PENDING"]);
    const last = new Date(Date.parse(SUBMITTED) + 3 * 60_000).toISOString();
    expect(runs(res.out)[0]!.state).toMatchObject({ state: "PENDING", reason: "Priority", confirmed_at: last });
    const saved = readFileSync(join(state, "poll", "jobs.ndjson"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { track: { state: { confirmed_at: string } } });
    expect(saved).toHaveLength(1);
    expect(saved[0]!.track.state.confirmed_at).toBe(last);
  });
});

describe("inputs and outputs", () => {
  it("passes through records without a job or with an error, reports bad lines, keeps the rest", async () => {
    const fake = new FakeSlurm();
    fake.squeue([sq("600", 0, "COMPLETED")]);
    fake.sacct(ac("600", 0, "COMPLETED"));
    const input = `${ndjson([{ id: "a", name: "notyet" }, { id: "b", name: "err", error: { stage: "slurm-submit", message: "invalid partition" } }])}not json\n${ndjson([
      record(0, "600"),
      { id: "c", name: "badid", job: { id: "12x" } },
    ])}`;
    const res = await runPoll(fake, tmp(), input);
    expect(res.out.filter((r) => r.id === "a" || r.id === "b")).toHaveLength(2);
    expect(res.err).toMatch(/stdin:1: run a has no "job"/);
    expect(res.err).toMatch(/stdin:3: not JSON/);
    expect(res.err).toMatch(/stdin:5: field "job.id": not a Slurm job id/);
    expect(stateOf(runs(res.out).find((r) => r.id === "000000abcdef")!)).toBe("COMPLETED");
    expect(res.code).toBe(1);
  });

  it("keeps reading a live pipe while polling and ends when it closed and every job ended", async () => {
    const fake = new FakeSlurm();
    const pipe = new PassThrough();
    pipe.write(ndjson([record(0, "100")]));
    fake.squeue([sq("100", 0, "RUNNING"), sq("101", 1, "PENDING")]);
    const script: Record<number, () => void> = {
      2: () => pipe.write(ndjson([record(1, "101")])),
      4: () => {
        fake.squeue([sq("100", 0, "COMPLETED"), sq("101", 1, "COMPLETED")]);
        fake.sacct([...ac("100", 0, "COMPLETED"), ...ac("101", 1, "COMPLETED")]);
        pipe.end();
      },
    };
    const res = await runPoll(fake, tmp(), pipe, { onCycle: (c) => script[c.cycle]?.() });
    expect(runs(res.out).map((r) => stateOf(r))).toEqual(["COMPLETED", "COMPLETED"]);
    expect(res.code).toBe(0);
  });

  it("flags a job requeued more than --max-requeues times and writes the human log", async () => {
    const fake = new FakeSlurm();
    const state = tmp();
    const log = join(state, "run.log");
    const at = (s: number) => new Date(Date.parse(SUBMITTED) + s * 1000).toISOString();
    const seq = [
      [sq("300", 0, "RUNNING")],
      [sq("300", 0, "PENDING", { submit: at(60) })],
      [sq("300", 0, "RUNNING", { submit: at(60) })],
      [sq("300", 0, "PENDING", { submit: at(120) })],
      [sq("300", 0, "RUNNING", { submit: at(120) })],
    ];
    fake.squeue(seq[0]!);
    const res = await runPoll(fake, state, ndjson([record(0, "300")]), {
      maxRequeues: 1,
      logFile: log,
      timeoutMs: 2000,
      onCycle: (c) => {
        if (seq[c.cycle]) fake.squeue(seq[c.cycle]!);
        else {
          fake.squeue([sq("300", 0, "COMPLETED", { submit: at(120) })]);
          fake.sacct(ac("300", 0, "COMPLETED", "0:0", { submit: at(120) }));
        }
      },
    });
    const final = runs(res.out)[0]!.state as Record<string, unknown>;
    expect(final).toMatchObject({ state: "COMPLETED", restarts: 2, flag: "too_many_requeues" });
    expect(res.err).toMatch(/requeued 2 times, more than --max-requeues 1/);
    expect(events(res.out).map((e) => e.restarts)).toEqual([0, 1, 1, 2, 2, 2]);
    const text = readFileSync(log, "utf8");
    expect(text).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] IDENTIFY_RUNS: Scanning for runs to submit\nDetails: Found 1 submitted runs\nResult: 1 runs submitted, 0 failed to submit \(0 already running, 0 completed\)\n\n/);
    expect(text).toMatch(/\n\n\[[^\]]+\] SUBMIT_JOB: run0\nResult: Job ID 300 submitted at /);
    expect(text).toMatch(/\] ALL_SUBMITTED: Job submission complete\nSummary: 1 jobs submitted successfully \(0 failures\)\nJob IDs: 300\n\n/);
    expect(text).toMatch(/\] STATUS_CHECK: Polling SLURM\nCommand: squeue -h -r -t all -j 300,300 .*\nResult: 1 jobs found - 0 PENDING, 1 RUNNING, 0 COMPLETED\n\n/);
    expect(text).toMatch(/\] STATE_CHANGE: run0\nJob ID: 300\nPrevious: RUNNING\nCurrent: PENDING\n/);
    expect(text).toMatch(/\] ALL_COMPLETE: Monitoring finished\nSummary: 1 jobs completed - 1 COMPLETED, 0 FAILED\nTotal time: /);
    expect(text).toMatch(/REQUEUE_LIMIT: run0/);
  });

  it("--early reports a quick failure with the tail of its stderr file", async () => {
    const fake = new FakeSlurm();
    const state = tmp();
    writeFileSync(join(state, "run0-555.err"), `${Array.from({ length: 30 }, (_, i) => `line ${i}`).join("\n")}\nModuleNotFoundError: No module named 'torchtune'\n`);
    fake.squeue([sq("555", 0, "FAILED")]);
    fake.sacct(ac("555", 0, "FAILED", "1:0", { elapsed: "00:00:03" }));
    const res = await runPoll(fake, state, ndjson([record(0, "555", { logs: { stderr: `${state}/%x-%j.err`.replace("%x", "run0") } })]), {
      earlyMs: 180_000,
      earlyLines: 5,
    });
    const st = runs(res.out)[0]!.state as { early_failure: { tail: string[]; path: string } };
    expect(st.early_failure.path).toBe(join(state, "run0-555.err"));
    expect(st.early_failure.tail).toEqual(["line 26", "line 27", "line 28", "line 29", "ModuleNotFoundError: No module named 'torchtune'"]);
    expect(res.err).toMatch(/early failure: run0 \(job 555\) FAILED 1:0 after 3s/);
    expect(res.code).toBe(1);
  });

  it("--timeout stops the watch with exit 3 and emits every run's current record", async () => {
    const fake = new FakeSlurm();
    fake.squeue([sq("400", 0, "RUNNING")]);
    const res = await runPoll(fake, tmp(), ndjson([record(0, "400")]), { timeoutMs: 100 });
    expect(res.code).toBe(3);
    expect(runs(res.out).map(stateOf)).toEqual(["RUNNING"]);
  });
});
