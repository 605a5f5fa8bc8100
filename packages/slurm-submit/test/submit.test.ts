import { spawn } from "node:child_process";
import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LockedError, lockStateDir, remoteCommandLine, taggedJobName } from "@slurmpipe/core";
import { afterEach, describe, expect, it } from "vitest";
import { liveSbatchFor, parseResubmit, parseSelector } from "../src/index.ts";
import { FakeClock, FakeSlurm, runSubmit } from "./fake-slurm.ts";

let fakes: FakeSlurm[] = [];
function fake(): FakeSlurm {
  const f = new FakeSlurm();
  fakes.push(f);
  return f;
}
afterEach(() => {
  for (const f of fakes) rmSync(f.dir, { recursive: true, force: true });
  fakes = [];
});

const job = (r: Record<string, unknown>) => r.job as Record<string, unknown>;
const err = (r: Record<string, unknown>) => r.error as Record<string, unknown>;

describe("submission and idempotency", () => {
  it("submits each run once with the tagged name, in the script's directory, and emits the job", async () => {
    const f = fake();
    const runs = [f.run(1), f.run(2), f.run(3)];
    const r = await runSubmit(f, runs);
    expect(r.code).toBe(0);
    expect(r.records).toHaveLength(3);
    const first = r.records[0]!;
    expect(job(first)).toMatchObject({ id: "100", cluster: "fakecluster", name: taggedJobName("run1", "0001aaaabbbbcccc"), attempt: 1, backend: "slurm" });
    expect(job(first).argv).toEqual(["sbatch", "--parsable", `--job-name=${taggedJobName("run1", "0001aaaabbbbcccc")}`, join(f.work, "run1/job.sbatch")]);
    expect(readFileSync(join(f.dir, "cwds"), "utf8").split("\n")[0]).toBe(join(f.work, "run1"));
    expect(f.jobs()).toHaveLength(3);
    const ledger = f.ledger();
    expect(ledger.map((e) => e.t)).toEqual(["intent", "submitted", "intent", "submitted", "intent", "submitted"]);
    expect((ledger[1]!.record as Record<string, unknown>).job).toEqual(job(first));
  });

  it("a second run submits nothing and re-emits every record with its job", async () => {
    const f = fake();
    const runs = [f.run(1), f.run(2), f.run(3)];
    const a = await runSubmit(f, runs);
    const b = await runSubmit(f, runs);
    expect(b.code).toBe(0);
    expect(f.calls("sbatch")).toHaveLength(3);
    expect(b.records.map((r) => job(r).id)).toEqual(a.records.map((r) => job(r).id));
    expect(f.ledger()).toHaveLength(6); // nothing appended
  });

  it("uses the job name the script asks for, plus the tag", async () => {
    const f = fake();
    const run = f.run(1, {}, "#!/bin/bash\n#SBATCH --job-name=finetune\n#SBATCH -o o.txt\ntrue\n");
    const r = await runSubmit(f, [run]);
    expect(job(r.records[0]!).name).toBe(taggedJobName("finetune", "0001aaaabbbbcccc"));
  });

  it("passes records that failed upstream through untouched, and reports records without a script", async () => {
    const f = fake();
    const upstream = { id: "0009aaaabbbbcccc", name: "bad", error: { stage: "slurm-render", message: "no" } };
    const noScript = { id: "0008aaaabbbbcccc", name: "noscript" };
    const r = await runSubmit(f, [upstream, noScript, f.run(1)]);
    expect(r.code).toBe(1);
    expect(r.records[0]).toEqual(upstream);
    expect(err(r.records[1]!)).toMatchObject({ stage: "slurm-submit", code: "no_script" });
    expect(String(err(r.records[1]!).message)).toContain("stdin:2");
    expect(job(r.records[2]!).id).toBe("100");
  });

  it("reports bad input lines with source:line:field and keeps going", async () => {
    const f = fake();
    const r = await runSubmit(f, ["{not json", JSON.stringify({ id: "x" }), f.run(1)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("stdin:1: not JSON");
    expect(r.stderr).toMatch(/stdin:2: field "name"/);
    expect(r.records).toHaveLength(1);
    expect(job(r.records[0]!).id).toBe("100");
  });

  it("passes other record kinds (slurm-poll events) through untouched", async () => {
    const f = fake();
    const event = { kind: "event", job_id: "5", from: "RUNNING", to: "FAILED", at: "2026-01-01T00:00:00Z" };
    const r = await runSubmit(f, [event, f.run(1)]);
    expect(r.code).toBe(0);
    expect(r.records[0]).toEqual(event);
    expect(job(r.records[1]!).id).toBe("100");
  });

  it("never submits a record that already carries a job from another pipeline", async () => {
    const f = fake();
    const run = { ...f.run(1), job: { id: "55", name: "x.sp0001aaaabb" } };
    const r = await runSubmit(f, [run]);
    expect(r.code).toBe(0);
    expect(f.calls("sbatch")).toHaveLength(0);
    expect(job(r.records[0]!).id).toBe("55");
    expect(r.stderr).toContain("already carries job 55");
  });
});

describe("crash safety", () => {
  // Two hours before the FakeClock's now: not recent.
  function intent(f: FakeSlurm, run: Record<string, unknown>, at = "2026-11-23T10:00:00Z"): string {
    const name = taggedJobName(String(run.name), String(run.id), 1);
    mkdirSync(f.state, { recursive: true });
    appendFileSync(
      join(f.state, "ledger.ndjson"),
      `${JSON.stringify({ t: "intent", run_id: run.id, attempt: 1, job_name: name, at, argv: ["sbatch", "--parsable", `--job-name=${name}`, "x"], name: run.name, host: "testhost", pid: 1 })}\n`,
    );
    return name;
  }

  it("an intent without result whose job exists is reconciled, not resubmitted", async () => {
    const f = fake();
    const run = f.run(1);
    const name = intent(f, run);
    f.setJobs([{ id: "77", name, state: "RUNNING" }]);
    const r = await runSubmit(f, [run], { host: "testhost" });
    expect(r.code).toBe(0);
    expect(f.calls("sbatch")).toHaveLength(0);
    expect(job(r.records[0]!)).toMatchObject({ id: "77", name, attempt: 1, reconciled_via: "squeue" });
    expect(f.ledger().at(-1)).toMatchObject({ t: "reconciled", job_id: "77", via: "squeue" });
  });

  it("finds a job that already left squeue through sacct, with an explicit -S/-E window", async () => {
    const f = fake();
    const run = f.run(1);
    const name = intent(f, run);
    f.setJobs([{ id: "78", name, state: "COMPLETED", where: "sacct" }]);
    const r = await runSubmit(f, [run], { host: "testhost" });
    expect(job(r.records[0]!)).toMatchObject({ id: "78", reconciled_via: "sacct" });
    const sacct = f.calls("sacct");
    expect(sacct).toHaveLength(1);
    expect(sacct[0]).toMatch(/-S \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d -E now/);
  });

  it("batches the lookups of many open intents into one squeue and one sacct call", async () => {
    const f = fake();
    const runs = [1, 2, 3, 4, 5].map((n) => f.run(n));
    const names = runs.map((r) => intent(f, r));
    f.setJobs([{ id: "80", name: names[0]!, state: "PENDING" }]);
    const r = await runSubmit(f, runs, { host: "testhost" });
    expect(r.code).toBe(0);
    expect(f.calls("squeue")).toHaveLength(1);
    expect(f.calls("sacct")).toHaveLength(1);
    expect(f.calls("sbatch")).toHaveLength(4);
    expect(f.ledger().filter((e) => e.t === "abandoned")).toHaveLength(4);
    expect(f.jobs()).toHaveLength(5);
  });

  it("a recent intent that is not found is looked up again after a pause before it is abandoned", async () => {
    const f = fake();
    const run = f.run(1);
    const clock = new FakeClock();
    intent(f, run, new Date(clock.t - 5000).toISOString());
    const r = await runSubmit(f, [run], { host: "testhost", clock, confirmDelayMs: 3000 });
    expect(clock.sleeps).toContain(3000);
    expect(f.calls("squeue").length).toBeGreaterThanOrEqual(2);
    expect(job(r.records[0]!).id).toBe("100");
    expect(f.ledger().map((e) => e.t)).toEqual(["intent", "abandoned", "intent", "submitted"]);
  });

  it("waits for an sbatch orphaned by a killed slurm-submit before looking, so its late job is found", async () => {
    const f = fake();
    const run = f.run(1);
    const name = intent(f, run);
    // The orphan: carries --job-name=<tag> in its argv and creates the job half a second later.
    const line = `91|${name}|PENDING|2026-11-23T10:00:00|both`;
    const orphan = spawn("bash", ["-c", `sleep 0.5; echo '${line}' >> '${join(f.dir, "jobs")}'`, "sbatch", "--parsable", `--job-name=${name}`], { stdio: "ignore" });
    await new Promise((r) => setTimeout(r, 100));
    expect((await liveSbatchFor([name]))?.get(name)).toEqual([orphan.pid]);
    const clock = { now: () => Date.now(), sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)), random: () => 0.5 };
    const r = await runSubmit(f, [run], { host: "testhost", clock });
    expect(f.calls("sbatch")).toHaveLength(0);
    expect(job(r.records[0]!)).toMatchObject({ id: "91", reconciled_via: "squeue" });
  });

  it("--remote: the orphan is the local ssh, the tag a word of the remote command line it carries", async () => {
    const name = taggedJobName("remote-orphan", "0001aaaabbbbcccc");
    const line = remoteCommandLine(["sbatch", "--parsable", `--job-name=${name}`, "/runs/a/job.sbatch"], { cwd: "/runs/a" });
    // argv as execRemote runs it: ssh's options, the destination, then the whole remote line as one word.
    const ssh = spawn("bash", ["-c", "sleep 2; true", "ssh", "-o", "ControlMaster=auto", "-T", "user@host", line], { stdio: "ignore" });
    await new Promise((r) => setTimeout(r, 100));
    try {
      expect((await liveSbatchFor([name]))?.get(name)).toEqual([ssh.pid]);
      // Another tag's remote sbatch is not this one's orphan.
      expect((await liveSbatchFor([taggedJobName("remote-orphan", "0002aaaabbbbcccc")]))?.size).toBe(0);
    } finally {
      ssh.kill("SIGKILL");
    }
  });

  it("sbatch that creates the job and then reports a socket timeout: reconciled, no duplicate", async () => {
    const f = fake();
    f.modes("timeout-after-create");
    const r = await runSubmit(f, [f.run(1), f.run(2)]);
    expect(r.code).toBe(0);
    expect(f.calls("sbatch")).toHaveLength(2);
    expect(f.jobs()).toHaveLength(2);
    expect(job(r.records[0]!)).toMatchObject({ id: "100", reconciled_via: "squeue" });
    expect(f.ledger().map((e) => e.t)).toEqual(["intent", "reconciled", "intent", "submitted"]);
  });

  it("a socket timeout that created nothing is retried after the lookup, with backoff", async () => {
    const f = fake();
    f.modes("timeout-no-create", "timeout-no-create");
    const clock = new FakeClock();
    const r = await runSubmit(f, [f.run(1)], { clock, backoffMs: 2000 });
    expect(r.code).toBe(0);
    expect(f.calls("sbatch")).toHaveLength(3);
    expect(f.jobs()).toHaveLength(1);
    expect(job(r.records[0]!).id).toBe("100");
    // each retry waited (jittered backoff, growing)
    expect(clock.sleeps.filter((s) => s >= 1500).length).toBeGreaterThanOrEqual(2);
  });

  it("gives up after --attempts transient failures with an error record and a failed ledger entry", async () => {
    const f = fake();
    f.modes("timeout-no-create", "timeout-no-create", "timeout-no-create");
    const r = await runSubmit(f, [f.run(1)], { submitAttempts: 3 });
    expect(r.code).toBe(1);
    expect(f.calls("sbatch")).toHaveLength(3);
    expect(err(r.records[0]!)).toMatchObject({ code: "transient" });
    expect(f.ledger().at(-1)).toMatchObject({ t: "failed", code: "transient" });
  });

  it("when Slurm cannot be asked after a timeout, the intent stays open and the run is reported uncertain", async () => {
    const f = fake();
    f.modes("timeout-no-create");
    f.flag("squeue-fail");
    const r = await runSubmit(f, [f.run(1)]);
    expect(r.code).toBe(1);
    expect(err(r.records[0]!)).toMatchObject({ code: "submit_uncertain" });
    expect(f.ledger().map((e) => e.t)).toEqual(["intent"]);
    f.flag("squeue-fail", false);
    const again = await runSubmit(f, [f.run(1)]);
    expect(again.code).toBe(0);
    expect(f.jobs()).toHaveLength(1);
  });

  it("repairs a ledger line cut by a crash before appending", async () => {
    const f = fake();
    await runSubmit(f, [f.run(1)]);
    appendFileSync(join(f.state, "ledger.ndjson"), '{"t":"intent","run_id":"0002aaa');
    const r = await runSubmit(f, [f.run(1), f.run(2)]);
    expect(r.code).toBe(0);
    expect(f.ledger().map((e) => e.t)).toEqual(["intent", "submitted", "intent", "submitted"]);
  });
});

describe("failures", () => {
  it("a permanent failure becomes an error record with sbatch's message; the stream continues; exit 1", async () => {
    const f = fake();
    f.modes("ok", "invalid-partition", "ok");
    const r = await runSubmit(f, [f.run(1), f.run(2), f.run(3)]);
    expect(r.code).toBe(1);
    expect(r.records).toHaveLength(3);
    expect(err(r.records[1]!)).toMatchObject({ stage: "slurm-submit", code: "invalid_partition" });
    expect(String(err(r.records[1]!).message)).toContain("Invalid partition name specified");
    expect(r.records[1]!.job).toBeUndefined();
    expect(job(r.records[2]!).id).toBe("101");
    expect(f.calls("sbatch")).toHaveLength(3); // no retry of a permanent failure
    expect(f.ledger().filter((e) => e.t === "failed")).toHaveLength(1);
  });

  it("reports a QOS submit limit distinctly as qos_limit", async () => {
    const f = fake();
    f.modes("qos");
    const r = await runSubmit(f, [f.run(1)]);
    expect(err(r.records[0]!)).toMatchObject({ code: "qos_limit" });
    expect(String(err(r.records[0]!).message)).toContain("QOSMaxSubmitJobPerUserLimit");
  });

  it("an unexplained sbatch failure is looked up, then reported without blind retries", async () => {
    const f = fake();
    f.modes("garbage");
    const r = await runSubmit(f, [f.run(1)]);
    expect(r.code).toBe(1);
    expect(f.calls("sbatch")).toHaveLength(1);
    expect(f.calls("squeue")).toHaveLength(2);
    expect(err(r.records[0]!)).toMatchObject({ code: "sbatch_failed" });
  });

  it("a run whose submission failed is submitted again on the next run, as attempt 2", async () => {
    const f = fake();
    f.modes("invalid-partition");
    await runSubmit(f, [f.run(1)]);
    const r = await runSubmit(f, [f.run(1)]);
    expect(r.code).toBe(0);
    expect(job(r.records[0]!)).toMatchObject({ attempt: 2, name: taggedJobName("run1", "0001aaaabbbbcccc", 2) });
  });
});

describe("resubmission", () => {
  it("--resubmit failed resubmits only runs whose job failed, with ONE state lookup, as attempt 2", async () => {
    const f = fake();
    const runs = [f.run(1), f.run(2), f.run(3)];
    await runSubmit(f, runs);
    const jobs = f.jobs();
    f.setJobs([
      { ...jobs[0]!, state: "FAILED" },
      { ...jobs[1]!, state: "COMPLETED" },
      { ...jobs[2]!, state: "TIMEOUT", where: "sacct" },
    ]);
    const before = f.calls("squeue").length;
    const r = await runSubmit(f, runs, { resubmit: parseResubmit("failed") });
    expect(r.code).toBe(0);
    expect(f.calls("squeue").length - before).toBe(1);
    expect(r.records.map((x) => [x.name, job(x).id])).toEqual([["run2", "101"], ["run1", "103"], ["run3", "104"]]);
    const byName = Object.fromEntries(r.records.map((x) => [x.name, job(x)]));
    expect(byName.run1).toMatchObject({ attempt: 2, previous_ids: ["100"], name: taggedJobName("run1", "0001aaaabbbbcccc", 2) });
    expect(byName.run2).toMatchObject({ id: "101", attempt: 1 });
    expect(byName.run3).toMatchObject({ attempt: 2, previous_ids: ["102"] });
  });

  it("--resubmit-where and --only select on record fields and Slurm's current state", async () => {
    const f = fake();
    const runs = [f.run(1, { group: "a" }), f.run(2, { group: "b" }), f.run(3, { group: "a" })];
    await runSubmit(f, runs);
    f.setJobs(f.jobs().map((j) => ({ ...j, state: "TIMEOUT" })));
    const r = await runSubmit(f, runs, { resubmitWhere: [parseSelector("state.state=TIMEOUT", "x")], only: [parseSelector("group=a", "x")] });
    const byName = Object.fromEntries(r.records.map((x) => [x.name, job(x)]));
    expect(byName.run1!.attempt).toBe(2);
    expect(byName.run2!.attempt).toBe(1);
    expect(byName.run3!.attempt).toBe(2);
  });

  it("never resubmits a job that is still pending or running", async () => {
    const f = fake();
    const runs = [f.run(1)];
    await runSubmit(f, runs);
    const r = await runSubmit(f, runs, { resubmit: parseResubmit("all") });
    expect(f.calls("sbatch")).toHaveLength(1);
    expect(job(r.records[0]!).attempt).toBe(1);
  });
});

describe("order, pacing and dependencies", () => {
  it("submits higher priority first, input order otherwise", async () => {
    const f = fake();
    const runs = [f.run(1, { priority: 1 }), f.run(2), f.run(3, { priority: 5 }), f.run(4, { priority: 1 })];
    const r = await runSubmit(f, runs);
    expect(r.records.map((x) => x.name)).toEqual(["run3", "run1", "run4", "run2"]);
  });

  it("staggers sbatch calls and honours --rate with the injected clock", async () => {
    const f = fake();
    const clock = new FakeClock();
    const starts: number[] = [];
    const runs = [1, 2, 3, 4, 5].map((n) => f.run(n));
    // Record the clock at every sbatch: the fake sbatch appends to calls; sample after each sleep.
    const orig = clock.sleep;
    clock.sleep = async (ms) => {
      await orig(ms);
      starts.push(clock.t);
    };
    await runSubmit(f, runs, { clock, staggerMs: 5000 });
    expect(clock.sleeps).toEqual([5000, 5000, 5000, 5000]); // none before the first, none after the last
    const c2 = new FakeClock();
    const f2 = fake();
    await runSubmit(f2, [1, 2, 3, 4, 5].map((n) => f2.run(n)), { clock: c2, rate: { count: 2, periodMs: 60_000 } });
    expect(c2.sleeps).toEqual([60_000, 60_000]);
  });

  it("maps depends_on (id or name) to --dependency=afterok with ids from this stream", async () => {
    const f = fake();
    const a = f.run(1);
    const b = f.run(2, { depends_on: ["run1"] });
    const c = f.run(3, { depends_on: [a.id, "run2"], priority: 10 });
    const r = await runSubmit(f, [c, b, a]);
    expect(r.code).toBe(0);
    const byName = Object.fromEntries(r.records.map((x) => [x.name, job(x)]));
    expect(byName.run2!.argv).toContain(`--dependency=afterok:${byName.run1!.id}`);
    expect(byName.run3!.argv).toContain(`--dependency=afterok:${byName.run1!.id}:${byName.run2!.id}`);
    expect(r.records.map((x) => x.name)).toEqual(["run1", "run2", "run3"]);
  });

  it("checks dependencies from the ledger: running -> afterok, completed -> satisfied, failed or forgotten -> refused", async () => {
    const f = fake();
    const deps = [f.run(1), f.run(2), f.run(3), f.run(4)];
    await runSubmit(f, deps);
    const jobs = f.jobs();
    f.setJobs([
      { ...jobs[0]!, state: "RUNNING" },
      { ...jobs[1]!, state: "COMPLETED", where: "sacct" },
      { ...jobs[2]!, state: "FAILED", where: "sacct" },
      // run4's job is forgotten by both
    ]);
    const d = (n: number, on: string) => f.run(n, { depends_on: [on] });
    const r = await runSubmit(f, [d(11, "run1"), d(12, "run2"), d(13, "run3"), d(14, "run4"), d(15, "nosuchrun")]);
    const byName = Object.fromEntries(r.records.map((x) => [x.name, x]));
    expect(job(byName.run11!).argv).toContain("--dependency=afterok:100");
    expect((job(byName.run12!).argv as string[]).some((a) => a.startsWith("--dependency"))).toBe(false);
    expect(err(byName.run13!)).toMatchObject({ code: "dependency_failed" });
    expect(err(byName.run14!)).toMatchObject({ code: "dependency_unknown" });
    expect(err(byName.run15!)).toMatchObject({ code: "dependency_unknown" });
    expect(r.code).toBe(1);
    expect(f.calls("squeue").filter((c) => c.includes("--name="))).toHaveLength(1); // one batched lookup
  });

  it("a run whose dependency failed to submit in this stream is refused, not submitted without it", async () => {
    const f = fake();
    f.modes("invalid-partition");
    const r = await runSubmit(f, [f.run(1), f.run(2, { depends_on: ["run1"] })]);
    expect(err(r.records[1]!)).toMatchObject({ code: "dependency_failed" });
    expect(f.calls("sbatch")).toHaveLength(1);
  });

  it("reports dependency cycles", async () => {
    const f = fake();
    const r = await runSubmit(f, [f.run(1, { depends_on: ["run2"] }), f.run(2, { depends_on: ["run1"] }), f.run(3)]);
    expect(r.records.filter((x) => err(x)?.code === "dependency_cycle")).toHaveLength(2);
    expect(f.calls("sbatch")).toHaveLength(1);
  });

  it("--max-in-flight waits (one squeue per check) while this state dir's jobs are at the limit", async () => {
    const f = fake();
    const clock = new FakeClock();
    let checks = 0;
    clock.onSleep = () => {
      // Jobs finish while we wait.
      checks++;
      f.setJobs(f.jobs().map((j) => ({ ...j, state: "COMPLETED" })));
    };
    const r = await runSubmit(f, [1, 2, 3, 4, 5].map((n) => f.run(n)), { clock, maxInFlight: 2, inFlightIntervalMs: 20_000 });
    expect(r.code).toBe(0);
    expect(f.jobs()).toHaveLength(5);
    expect(checks).toBe(2); // waited after 2 and after 4
    expect(clock.sleeps).toEqual([20_000, 20_000]);
    expect(f.calls("squeue").every((c) => !c.includes("--name="))).toBe(true);
    expect(f.calls("squeue")).toHaveLength(5); // checks: 1st run, 3rd (full), after wait, 5th (full), after wait
  });
});

describe("the site profile's submit limit (slurm-render's script.site_limits) is the default --max-in-flight", () => {
  function limited(f: FakeSlurm, n: number, max: number): Record<string, unknown> {
    const r = f.run(n);
    const script = r.script as Record<string, unknown>;
    r.script = { ...script, site_limits: { profile: "lumi", partition: "small-g", checked: "2026-12-02", max_submit_jobs: max, max_running_jobs: 200, source: "L1" } };
    return r;
  }

  it("without --max-in-flight, waits at the site's limit (LUMI small-g: 210 submitted jobs per user, here 2)", async () => {
    const f = fake();
    const clock = new FakeClock();
    let checks = 0;
    clock.onSleep = () => {
      checks++;
      f.setJobs(f.jobs().map((j) => ({ ...j, state: "COMPLETED" })));
    };
    const r = await runSubmit(f, [1, 2, 3, 4, 5].map((n) => limited(f, n, 2)), { clock, inFlightIntervalMs: 20_000 });
    expect(r.code).toBe(0);
    expect(f.jobs()).toHaveLength(5);
    expect(checks).toBe(2); // waited after 2 and after 4, as --max-in-flight 2 does
    expect(r.stderr).toContain("--max-in-flight 2 by default (profile lumi, partition small-g: 2 submitted jobs per user; L1)");
    expect(r.stderr.match(/by default/g)).toHaveLength(1);
  });

  it("an explicit --max-in-flight wins over the site's limit", async () => {
    const f = fake();
    const clock = new FakeClock();
    let checks = 0;
    clock.onSleep = () => {
      checks++;
      f.setJobs(f.jobs().map((j) => ({ ...j, state: "COMPLETED" })));
    };
    const r = await runSubmit(f, [1, 2, 3, 4, 5].map((n) => limited(f, n, 2)), { clock, maxInFlight: 10, inFlightIntervalMs: 20_000 });
    expect(r.code).toBe(0);
    expect(f.jobs()).toHaveLength(5);
    expect(checks).toBe(0);
    expect(r.stderr).not.toContain("by default");
  });

  it("records without site limits are not paced", async () => {
    const f = fake();
    const clock = new FakeClock();
    const r = await runSubmit(f, [1, 2, 3].map((n) => f.run(n)), { clock });
    expect(r.code).toBe(0);
    expect(clock.sleeps).toEqual([]);
    expect(f.calls("squeue")).toHaveLength(0);
  });
});

describe("arrays", () => {
  function arrayRuns(f: FakeSlurm, n: number, spec = `0-${n - 1}%2`) {
    const dir = join(f.work, "arr");
    mkdirSync(dir, { recursive: true });
    const path = join(dir, "job.sbatch");
    writeFileSync(path, `#!/bin/bash\n#SBATCH --job-name=sweep-array\n#SBATCH --array=${spec}\ntrue\n`);
    return Array.from({ length: n }, (_, i) => ({
      id: `${i}000aaaabbbbcccc`,
      name: `task${i}`,
      script: { path, array: { index: i, id: "arr0123456789ab", name: "sweep-array", spec, table: join(dir, "params.tbl") } },
    }));
  }

  it("submits an array script once and emits one record per task", async () => {
    const f = fake();
    const runs = arrayRuns(f, 3);
    const r = await runSubmit(f, runs);
    expect(r.code).toBe(0);
    expect(f.calls("sbatch")).toHaveLength(1);
    expect(f.calls("sbatch")[0]).not.toContain("--array="); // the script's own spec (and throttle) applies
    expect(r.records.map((x) => job(x))).toEqual(
      [0, 1, 2].map((i) => expect.objectContaining({ id: `100_${i}`, array_job_id: "100", array_task: i, name: taggedJobName("sweep-array", "arr0123456789ab") })),
    );
    const again = await runSubmit(f, runs);
    expect(f.calls("sbatch")).toHaveLength(1);
    expect(again.records.map((x) => job(x).id)).toEqual(["100_0", "100_1", "100_2"]);
  });

  it("submits a subset of an array's tasks with --array, keeping the throttle", async () => {
    const f = fake();
    const runs = arrayRuns(f, 5);
    const r = await runSubmit(f, [runs[0]!, runs[2]!, runs[3]!]);
    expect(f.calls("sbatch")[0]).toContain("--array=0,2-3%2");
    expect(r.records.map((x) => job(x).id)).toEqual(["100_0", "100_2", "100_3"]);
  });

  it("resubmits only the failed tasks, under a new tag", async () => {
    const f = fake();
    const runs = arrayRuns(f, 3);
    await runSubmit(f, runs);
    f.setJobs(f.jobs().map((j) => ({ ...j, state: j.id === "100_1" ? "OUT_OF_MEMORY" : "COMPLETED" })));
    const r = await runSubmit(f, runs, { resubmit: parseResubmit("failed") });
    expect(f.calls("sbatch")[1]).toContain("--array=1%2");
    const t1 = r.records.find((x) => x.name === "task1")!;
    expect(job(t1)).toMatchObject({ id: "101_1", attempt: 2, name: taggedJobName("sweep-array", "arr0123456789ab", 2) });
    expect(job(r.records.find((x) => x.name === "task0")!).id).toBe("100_0");
  });

  it("reconciles an interrupted array submission into per-task jobs", async () => {
    const f = fake();
    const runs = arrayRuns(f, 2);
    const name = taggedJobName("sweep-array", "arr0123456789ab");
    mkdirSync(f.state, { recursive: true });
    for (const run of runs) {
      appendFileSync(
        join(f.state, "ledger.ndjson"),
        `${JSON.stringify({ t: "intent", run_id: run.id, attempt: 1, job_name: name, at: "2026-11-23T10:00:00Z", argv: [], array_id: "arr0123456789ab", array_task: run.script.array.index, host: "h" })}\n`,
      );
    }
    f.setJobs([
      { id: "90_0", name, state: "COMPLETED" },
      { id: "90_1", name, state: "RUNNING" },
    ]);
    const r = await runSubmit(f, runs, { host: "h" });
    expect(f.calls("sbatch")).toHaveLength(0);
    expect(r.records.map((x) => job(x).id)).toEqual(["90_0", "90_1"]);
  });
});

describe("lock and dry run", () => {
  it("refuses a state directory locked by another process", async () => {
    const f = fake();
    const release = await lockStateDir(f.state);
    try {
      await expect(runSubmit(f, [f.run(1)])).rejects.toBeInstanceOf(LockedError);
      expect(f.calls("sbatch")).toHaveLength(0);
    } finally {
      await release();
    }
  });

  it("--wait-lock waits for the other process to finish", async () => {
    const f = fake();
    const release = await lockStateDir(f.state);
    setTimeout(() => void release(), 700);
    const r = await runSubmit(f, [f.run(1)], { waitLockMs: 10_000 });
    expect(r.code).toBe(0);
    expect(f.calls("sbatch")).toHaveLength(1);
  });

  it("--dry-run prints the argv, submits nothing and writes no ledger", async () => {
    const f = fake();
    const r = await runSubmit(f, [f.run(1), f.run(2, { depends_on: ["run1"] })], { dryRun: true });
    expect(r.code).toBe(0);
    expect(f.calls()).toHaveLength(0);
    expect(f.ledger()).toHaveLength(0);
    expect(r.records[0]).toMatchObject({ dry_run: true, planned: "submit" });
    expect(r.records[0]!.job).toBeUndefined();
    expect(r.records[0]!.sbatch_argv).toEqual(["sbatch", "--parsable", `--job-name=${taggedJobName("run1", "0001aaaabbbbcccc")}`, join(f.work, "run1/job.sbatch")]);
    expect(r.records[1]!.sbatch_argv).toContain("--dependency=afterok:<run1>");
    expect(r.stderr).toContain("would run");
  });
});
