import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { parseSbatchParsable, runLocalSlurm } from "../src/index.ts";
import { localHostSource } from "../src/local/host-source.ts";

/**
 * The local backend's answer for a job lost to a reboot of its machine (bare-box mode's fault: the
 * box rebooted, the job's runner and processes are gone): in no queue, sacct keeps its last state
 * with reason BootIdChanged (slurm-poll: UNKNOWN, lost), scancel ends it without signalling a pid
 * that now names another process. And the program bare-box mode sends to HOST answers as the
 * library does.
 */
function setup() {
  const root = mkdtempSync(join(tmpdir(), "sp-local-reboot-"));
  const dir = join(root, "state");
  const work = join(root, "work");
  mkdirSync(work);
  const run = (cmd: string, args: string[]) => runLocalSlurm(cmd, args, { dir, cwd: work, maxParallel: 2 });
  const script = join(work, "job.sh");
  writeFileSync(script, `#!/bin/bash\n#SBATCH --output=${work}/%j.out\nsleep 600\n`);
  chmodSync(script, 0o755);
  return { dir, work, run, script };
}

const jobFile = (dir: string, id: string) => join(dir, "jobs", `${id}.json`);
const readJob = (dir: string, id: string) => JSON.parse(readFileSync(jobFile(dir, id), "utf8")) as { state: string; boot_id?: string; pid?: number; runner_pid?: number };

async function runningJob(s: ReturnType<typeof setup>): Promise<string> {
  const id = parseSbatchParsable((await s.run("sbatch", ["--parsable", s.script])).stdout).jobId;
  for (const end = Date.now() + 20_000; readJob(s.dir, id).state !== "RUNNING"; await new Promise((r) => setTimeout(r, 100))) {
    if (Date.now() > end) throw new Error("job did not start");
  }
  return id;
}

/** A reboot, as far as the job file can tell: runner and job killed, another boot id now. */
function reboot(dir: string, id: string): { was: string; fake: string } {
  const job = readJob(dir, id);
  process.kill(job.runner_pid!, "SIGKILL");
  process.kill(-job.pid!, "SIGKILL");
  const fake = "00000000-0000-4000-8000-000000000000";
  writeFileSync(jobFile(dir, id), readFileSync(jobFile(dir, id), "utf8").replace(job.boot_id!, fake));
  return { was: job.boot_id!, fake };
}

describe("local backend: a job lost to a reboot", () => {
  it("sbatch records the boot id; after a reboot squeue lists it nowhere, sacct says BootIdChanged with both ids, scancel ends it", async () => {
    const s = setup();
    const id = await runningJob(s);
    const bootNow = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    expect(readJob(s.dir, id).boot_id).toBe(bootNow);
    expect((await s.run("squeue", ["-h", "-t", "all", "-o", "%i %T"])).stdout).toBe(`${id} RUNNING\n`);
    const { fake } = reboot(s.dir, id);
    expect((await s.run("squeue", ["-h", "-t", "all", "-o", "%i %T"])).stdout).toBe("");
    const acct = (await s.run("sacct", ["-X", "-P", "-n", "-j", id, "-o", "JobID,State,Reason"])).stdout.trim().split("|");
    expect(acct[0]).toBe(id);
    expect(acct[1]).toBe("RUNNING"); // accounting's last word on it: nothing says how it ended
    expect(acct[2]).toMatch(/^BootIdChanged: .+ rebooted after the job was submitted/);
    expect(acct[2]).toContain(`(boot id ${fake} at submission, ${bootNow} now)`);
    expect(await s.run("scancel", [id])).toMatchObject({ exitCode: 0 });
    expect(readJob(s.dir, id).state).toBe("CANCELLED");
  });

  it("the program sent to HOST (node -) answers a command line exactly as the library; its sbatch starts the runner", async () => {
    const s = setup();
    const host = (args: string[]) => execa("node", ["-", ...args], { input: localHostSource(), env: { SLURMPIPE_LOCAL_DIR: s.dir }, cwd: s.work, reject: false });
    const sub = await host(["sbatch", "--parsable", s.script]);
    expect(sub.stderr).toBe("");
    const id = parseSbatchParsable(`${sub.stdout}\n`).jobId;
    for (const end = Date.now() + 20_000; readJob(s.dir, id).state !== "RUNNING"; await new Promise((r) => setTimeout(r, 100))) {
      if (Date.now() > end) throw new Error("job did not start");
    }
    const args = ["-X", "-P", "-n", "-j", id, "-o", "JobID,State,Reason,JobName"];
    const viaHost = await host(["sacct", ...args]);
    expect(viaHost.stderr).toBe("");
    expect(viaHost.exitCode).toBe(0);
    expect(viaHost.stdout + "\n").toBe((await s.run("sacct", args)).stdout);
    const job = readJob(s.dir, id);
    process.kill(job.runner_pid!, "SIGKILL");
    process.kill(-job.pid!, "SIGKILL");
  });
});
