import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { taggedJobName } from "@slurmpipe/core";
import { execa } from "execa";
import { expect, it } from "vitest";
import { records, runCli } from "../support/cli.ts";
import { describeSlurm, requireCluster } from "../support/slurm.ts";

/** A bin dir whose squeue/sacct log each call, then exec the real command. */
function wrapperBin(dir: string, real: Record<string, string>): string {
  const bin = join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  for (const [cmd, path] of Object.entries(real)) {
    writeFileSync(join(bin, cmd), `#!/bin/sh\nprintf '%s\\n' "${cmd} $*" >> "${dir}/calls.log"\nexec "${path}" "$@"\n`);
    chmodSync(join(bin, cmd), 0o755);
  }
  return bin;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function stateOf(id: string): Promise<string> {
  const r = await execa("squeue", ["-h", "-t", "all", "-j", `${id},${id}`, "-o", "%T"], { reject: false });
  return String(r.stdout).trim();
}

async function waitState(id: string, want: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if ((await stateOf(id)) === want) return;
    await sleep(200);
  }
  throw new Error(`job ${id} never reached ${want}`);
}

describeSlurm("slurm-poll against the real local Slurm", () => {
  it("follows ~8 jobs to their real end: FAILED 3:0, CANCELLED, COMPLETED, an array, a requeue; <= 2 Slurm calls per cycle", async () => {
    requireCluster();
    const dir = mkdtempSync(join(tmpdir(), "sp-poll-it-"));
    const real = Object.fromEntries(
      await Promise.all(["squeue", "sacct"].map(async (c) => [c, String((await execa("sh", ["-c", `command -v ${c}`])).stdout).trim()])),
    );
    const bin = wrapperBin(dir, real);
    const stamp = Date.now().toString(36);
    const recs: Record<string, unknown>[] = [];
    const submit = async (key: string, args: string[], extra: Record<string, unknown> = {}) => {
      const runId = `${key.replace(/[^a-z0-9]/g, "")}${stamp}0000000000`.slice(0, 12);
      const name = taggedJobName(`sp-poll-it-${key}`, runId);
      const r = await execa("sbatch", ["--parsable", "-J", name, "-o", "/dev/null", ...args], { cwd: dir });
      const id = String(r.stdout).trim();
      return { id, name, runId, submitted_at: new Date().toISOString(), extra };
    };
    const add = (key: string, j: { id: string; name: string; runId: string; submitted_at: string }, jobExtra: Record<string, unknown> = {}, recExtra: Record<string, unknown> = {}) =>
      recs.push({ id: `${j.runId}${jobExtra.array_task ?? ""}`, name: key, job: { id: j.id, name: j.name, submitted_at: j.submitted_at, ...jobExtra }, ...recExtra });

    const ok = await submit("ok", ["--wrap", "sleep 1"]);
    add("ok", ok);
    const fail = await submit("fail", ["-e", join(dir, "fail-%j.err"), "--wrap", "echo 'ImportError: no module named torch' >&2; exit 3"]);
    add("fail", fail, {}, { logs: { stderr: join(dir, "fail-%j.err") } });
    const cancel = await submit("cancel", ["--wrap", "sleep 60"]);
    add("cancel", cancel);
    const arr = await submit("arr", ["--array=0-2", "--wrap", "sleep 1"]);
    for (const t of [0, 1, 2]) add(`arr${t}`, { ...arr, id: `${arr.id}_${t}` }, { array_job_id: arr.id, array_task: t });
    const rq = await submit("requeue", ["--requeue", "--wrap", "sleep 5"]);
    add("requeue", rq);
    const ok2 = await submit("ok2", ["--wrap", "true"]);
    add("ok2", ok2);

    const polling = runCli("slurm-poll", ["--state", join(dir, "state"), "--interval", "1s", "--slurm-bin", bin, "--log", join(dir, "run.log"), "--early", "3m", "--timeout", "150s"], {
      input: `${recs.map((r) => JSON.stringify(r)).join("\n")}\n`,
      cwd: dir,
    });

    // Meanwhile: cancel one running job; requeue another while it runs and let it start again at once.
    await waitState(cancel.id, "RUNNING");
    await execa("scancel", [cancel.id]);
    await waitState(rq.id, "RUNNING");
    await sleep(1500); // let poll see it running
    await execa("scontrol", ["requeue", rq.id]);
    await waitState(rq.id, "PENDING", 30_000);
    await sleep(1500); // let poll see it pending again
    await execa("scontrol", ["update", `JobId=${rq.id}`, "StartTime=now"]);

    const res = await polling;
    const out = records(res.stdout);
    const final = new Map(out.filter((r) => r.kind !== "event").map((r) => [r.name as string, r.state as Record<string, unknown>]));
    const evs = out.filter((r) => r.kind === "event");
    expect(res.exitCode, String(res.stderr)).toBe(1); // a job failed

    expect(final.get("ok")).toMatchObject({ state: "COMPLETED", category: "success", terminal: true, exit_code: "0:0" });
    expect(final.get("ok2")).toMatchObject({ state: "COMPLETED", exit_code: "0:0" });
    expect(final.get("fail")).toMatchObject({ state: "FAILED", category: "failure", exit_code: "3:0" });
    expect((final.get("fail")!.early_failure as { tail: string[] }).tail).toContain("ImportError: no module named torch");
    expect(final.get("cancel")).toMatchObject({ state: "CANCELLED", terminal: true });
    for (const t of [0, 1, 2]) expect(final.get(`arr${t}`)).toMatchObject({ state: "COMPLETED" });
    expect(final.get("requeue")).toMatchObject({ state: "COMPLETED", category: "success", restarts: 1 });

    // The requeue was followed (RUNNING -> ... -> PENDING -> RUNNING), never reported as a failure.
    const rqTo = evs.filter((e) => e.job_id === rq.id).map((e) => e.to as string);
    const back = rqTo.lastIndexOf("PENDING");
    expect(rqTo.indexOf("RUNNING")).toBeLessThan(back);
    expect(rqTo.slice(back)).toContain("RUNNING");
    expect(rqTo.filter((s) => /FAILED|CANCELLED|NODE_FAIL|PREEMPTED|UNKNOWN/.test(s))).toEqual([]);
    expect(evs.find((e) => e.job_id === rq.id && e.to === "COMPLETED")!.restarts).toBe(1);
    // Every job reached exactly one terminal state; array tasks carry their task.
    expect(evs.filter((e) => e.job_id === `${arr.id}_1`).every((e) => e.array_task === 1)).toBe(true);

    // Cost: every cycle is one squeue, optionally followed by one sacct.
    const calls = readFileSync(join(dir, "calls.log"), "utf8").trim().split("\n").map((l) => l.split(" ")[0]);
    expect(calls.join(" ")).toMatch(/^squeue( sacct)?( squeue( sacct)?)*$/);
    const cycles = readFileSync(join(dir, "run.log"), "utf8").match(/\] STATUS_CHECK: /g)!.length;
    expect(calls.filter((c) => c === "squeue").length).toBe(cycles);
    const log = readFileSync(join(dir, "run.log"), "utf8");
    expect(log).toMatch(/\] ALL_COMPLETE: Monitoring finished\nSummary: 8 jobs completed - 6 COMPLETED, 2 FAILED \(1 FAILED, 1 CANCELLED\)/);
  });
});

describeSlurm("slurm-poll --lost-after against the real local Slurm", () => {
  it("a pending array task cancelled before it starts vanishes from squeue and sacct: reported lost (UNKNOWN, flag), not failed; the watch ends by itself with exit 3", async () => {
    requireCluster();
    const dir = mkdtempSync(join(tmpdir(), "sp-poll-lost-it-"));
    const runId = `lost${Date.now().toString(36)}0000000000`.slice(0, 12);
    const name = taggedJobName("sp-poll-it-lost", runId);
    const id = String((await execa("sbatch", ["--parsable", "-H", "-J", name, "-o", "/dev/null", "--array=0-2", "--wrap", "sleep 1"], { cwd: dir })).stdout).trim();
    try {
      const at = new Date().toISOString();
      const recs = [0, 1, 2].map((t) => ({ id: `${runId}${t}`, name: `lost${t}`, job: { id: `${id}_${t}`, name, submitted_at: at, array_job_id: id, array_task: t } }));
      const log = join(dir, "run.log");
      const started = Date.now();
      const polling = runCli("slurm-poll", ["--state", join(dir, "state"), "--interval", "1s", "--lost-after", "5s", "--timeout", "150s", "--log", log], {
        input: `${recs.map((r) => JSON.stringify(r)).join("\n")}\n`,
        cwd: dir,
      });
      // Let poll see task 1 pending, then cancel it while the array is still held.
      const seenPending = new RegExp(`Job ID: ${id}_1\\nPrevious: \\(not seen yet\\)\\nCurrent: PENDING`);
      for (let end = Date.now() + 60_000; !(existsSync(log) && seenPending.test(readFileSync(log, "utf8"))); await sleep(200)) {
        if (Date.now() > end) throw new Error("slurm-poll never reported the held task pending");
      }
      await execa("scancel", [`${id}_1`]);
      await sleep(1000);
      // The Slurm 22.05 behaviour this test relies on: the task is gone from both, for good.
      expect(String((await execa("squeue", ["-h", "-r", "-t", "all", "-j", `${id},${id}`, "-o", "%i"])).stdout).split("\n")).not.toContain(`${id}_1`);
      const acct = String((await execa("sacct", ["-P", "-n", "-D", "-j", `${id}_1,${id}_1`, "-S", "now-1day", "-E", "now", "-o", "JobID"])).stdout).trim();
      expect(acct).toBe("");
      await execa("scontrol", ["release", id]); // tasks 0 and 2 run and complete

      const res = await polling;
      const out = records(res.stdout);
      const finals = out.filter((r) => r.kind !== "event");
      const byName = new Map(finals.map((r) => [r.name as string, r.state as Record<string, unknown>]));
      expect(res.exitCode, String(res.stderr)).toBe(3);
      expect(Date.now() - started).toBeLessThan(140_000); // ended by itself, not by --timeout
      expect(finals.map((r) => r.name).sort()).toEqual(["lost0", "lost1", "lost2"]); // one record each
      expect(byName.get("lost0")).toMatchObject({ state: "COMPLETED", terminal: true });
      expect(byName.get("lost2")).toMatchObject({ state: "COMPLETED", terminal: true });
      expect(byName.get("lost1")).toMatchObject({ state: "UNKNOWN", category: "uncertain", terminal: false, flag: "lost" });
      expect(byName.get("lost1")!.reason).toMatch(/^lost: missing from squeue and sacct for \d+s of answered queries; last seen PENDING at /);
      // Never reported failed or ended on the way.
      const to1 = out.filter((r) => r.kind === "event" && r.job_id === `${id}_1`).map((e) => e.to);
      expect(to1).toEqual(["PENDING", "UNKNOWN"]);
      expect(String(res.stderr)).toMatch(new RegExp(`lost1 \\(job ${id}_1\\) lost: `));
      const text = readFileSync(log, "utf8");
      expect(text).toMatch(new RegExp(`\\] JOB_LOST: lost1\\nJob ID: ${id}_1\\nMissing: \\d+s from squeue and sacct`));
      expect(text).toMatch(/\] MONITOR_STOPPED: jobs lost\n/);
    } finally {
      await execa("scancel", [id], { reject: false });
    }
  });
});
