import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ResultPromise, execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ndjson } from "../../packages/slurm-submit/test/slurm-fixtures.ts";
import { closeRemote } from "../../packages/core/src/remote/ssh.ts";
import { records, runCli } from "../support/cli.ts";
import { alive, boxRun, dropConnection, hostHome, hostJobFile, readHostJob, restartSshd, until } from "./support/barebox.ts";
import { type Sshd, startSshd } from "./support/sshd.ts";

/**
 * Bare-box mode's faults, for real: the jobs run detached on HOST, so they outlive the ssh
 * connection (the ControlMaster and sshd itself killed -9 mid-run); a poll while HOST does not
 * answer is a failed query (nothing becomes FAILED); a job whose box rebooted (its recorded boot id
 * no longer the box's, its processes gone) is UNKNOWN and lost with the reason, and a watch without
 * --timeout ends on it.
 */
let sshd: Sshd;
let restarted: ResultPromise | undefined;
let state = "";
beforeAll(async () => {
  sshd = await startSshd();
});
/** Our jobs on HOST: whatever a failed run left (a runner, a `sleep 600`) is killed, not left to hold a slot. */
const hostJobs: { pid?: number; runner_pid?: number }[] = [];
afterAll(async () => {
  for (const j of hostJobs) {
    for (const [pid, group] of [[j.runner_pid, false], [j.pid, true]] as const) {
      try {
        if (pid) process.kill(group ? -pid : pid, "SIGKILL");
      } catch {
        // ended
      }
    }
  }
  if (state) await closeRemote({ host: sshd.host, stateDir: state, sshBin: sshd.sshBin });
  restarted?.kill("SIGKILL");
  await restarted;
  await sshd?.stop();
});

type Rec = { kind?: string; name?: string; to?: string; job?: { id?: string }; state?: { state?: string; exit_code?: string; terminal?: boolean; flag?: string; reason?: string; category?: string } };

describe("bare-box mode: faults", () => {
  it("jobs survive the ssh connection and sshd killed -9 mid-run; a poll meanwhile is a failed query; a rebooted box's job is UNKNOWN-lost and the watch ends", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-barebox-faults-"));
    chmodSync(dir, 0o755);
    const runs = [boxRun(dir, "survivor", "box-survivor", "echo started; sleep 25; echo survived"), boxRun(dir, "rebooted", "box-rebooted", "echo started; sleep 600")];
    state = join(dir, "state");
    const env = { SLURMPIPE_SSH: sshd.sshBin };
    const remote = ["--backend", "local", "--remote", sshd.host, "--remote-batch-mode"];
    const sub = await runCli("slurm-submit", ["--state", state, ...remote], { input: ndjson(runs), env });
    expect(sub.exitCode, String(sub.stderr)).toBe(0);
    const out = records(sub.stdout) as Rec[];
    const idOf = (name: string) => String(out.find((r) => r.name === name)!.job!.id);
    const home = await hostHome();
    await until("both jobs running on HOST", () => out.every((r) => readHostJob(home, String(r.job!.id)).state === "RUNNING"));
    const survivor = readHostJob(home, idOf("box-survivor"));
    const doomed = readHostJob(home, idOf("box-rebooted"));
    hostJobs.push(survivor, doomed);
    // Detached from the ssh session as setsid does: each runner and each job leads a session of its
    // own (not the one sshd made for the command), with no controlling terminal.
    for (const pid of [survivor.runner_pid, survivor.pid, doomed.runner_pid, doomed.pid]) {
      const [sid, tty] = (await execa("ps", ["-o", "sid=,tty=", "-p", String(pid)])).stdout.trim().split(/\s+/);
      expect(Number(sid), `session of ${pid}`).toBe(pid);
      expect(tty, `terminal of ${pid}`).toBe("?");
    }

    // Seen RUNNING by a poll first: what a failed query must not change into FAILED.
    const first = await runCli("slurm-poll", ["--state", state, ...remote, "--once"], { input: String(sub.stdout), env });
    expect(first.exitCode, String(first.stderr)).toBe(3);
    expect((records(first.stdout) as Rec[]).filter((r) => r.kind !== "event").map((r) => r.state?.state)).toEqual(["RUNNING", "RUNNING"]);

    // The connection drops hard: the ControlMaster, sshd and its session processes killed -9.
    await dropConnection(sshd, state);
    // The jobs (and their runners) live on: detached on HOST, in sessions of their own.
    await new Promise((r) => setTimeout(r, 1000));
    for (const j of [survivor, doomed]) {
      expect(alive(j.pid), `job ${j.raw_id}`).toBe(true);
      expect(alive(j.runner_pid), `runner of ${j.raw_id}`).toBe(true);
    }

    // A poll while HOST does not answer: a failed query; no job becomes FAILED (or terminal).
    const down = await runCli("slurm-poll", ["--state", state, ...remote, "--once"], { input: String(sub.stdout), env });
    expect(down.exitCode, String(down.stderr)).toBe(3);
    expect(String(down.stderr)).toMatch(/Connection refused|Connection lost/);
    const downRecs = records(down.stdout) as Rec[];
    for (const r of downRecs) if (r.kind === "event") expect(r.to).not.toBe("FAILED");
    const downRuns = downRecs.filter((r) => r.kind !== "event");
    expect(downRuns.map((r) => r.name).sort()).toEqual(["box-rebooted", "box-survivor"]);
    for (const r of downRuns) expect(["RUNNING", "UNKNOWN"]).toContain(r.state?.state);
    for (const r of downRuns) expect(r.state?.terminal).not.toBe(true);

    restarted = (await restartSshd(sshd)).proc;
    const before = sshd.accepted();
    // The box "reboots" under the second job: its runner and processes die, the boot id changes.
    process.kill(doomed.runner_pid!, "SIGKILL");
    process.kill(-doomed.pid!, "SIGKILL");
    await until("the rebooted job's processes to be gone", () => !alive(doomed.pid) && !alive(doomed.runner_pid));
    const file = hostJobFile(home, doomed.raw_id);
    const fake = "00000000-0000-4000-8000-000000000000";
    const real = doomed.boot_id!;
    writeFileSync(file, readFileSync(file, "utf8").replace(real, fake)); // in place: owner and mode stay

    // A watch (no --timeout) ends: the survivor with its real end, the rebooted job lost.
    const watch = await runCli("slurm-poll", ["--state", state, ...remote, "--interval", "1s"], { input: String(sub.stdout), env, timeout: 120_000 });
    expect(watch.timedOut).toBe(false);
    expect(watch.exitCode, String(watch.stderr)).toBe(3); // 3: a job lost
    const recs = records(watch.stdout) as Rec[];
    for (const r of recs) if (r.kind === "event") expect(r.to).not.toBe("FAILED");
    const finals = new Map(recs.filter((r) => r.kind !== "event").map((r) => [r.name, r]));
    expect(finals.get("box-survivor")?.state).toMatchObject({ state: "COMPLETED", exit_code: "0:0", terminal: true });
    expect(readFileSync(survivor.stdout, "utf8")).toBe("started\nsurvived\n");
    const lost = finals.get("box-rebooted")?.state;
    expect(lost).toMatchObject({ state: "UNKNOWN", category: "uncertain", terminal: false, flag: "lost" });
    expect(lost?.reason).toMatch(/BootIdChanged: .* rebooted after the job was submitted/);
    expect(lost?.reason).toContain(`boot id ${fake} at submission, ${real} now`);
    expect(watch.stderr).toMatch(/box-rebooted .* lost: BootIdChanged/);
    // One new connection for the whole watch after sshd came back.
    expect(sshd.accepted() - before).toBe(1);
  });
});
