import { chmodSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ResultPromise, execa } from "execa";
import { parseRemoteHost } from "../../../packages/core/src/remote/host.ts";
import { controlPath } from "../../../packages/core/src/remote/ssh.ts";
import { freshRunId } from "../../../packages/slurm-submit/test/slurm-fixtures.ts";
import { type Sshd, TEST_USER } from "./sshd.ts";

/**
 * Bare-box mode's test helpers: runs whose directories (and so the script path sbatch gets over
 * ssh, and the #SBATCH -o path) carry a hostile word, and the test user's local-backend job files
 * on HOST (this machine, as that user: ~spremote/.local/state/slurmpipe/local).
 */
export function boxRun(dir: string, dirName: string, name: string, body: string): Record<string, unknown> {
  const runDir = join(dir, dirName);
  mkdirSync(runDir, { recursive: true });
  chmodSync(runDir, 0o777); // the job runs as the test user and writes its log here
  const path = join(runDir, "job.sbatch");
  // Double quotes: sbatch's directive parser keeps a path with spaces and single quotes whole.
  writeFileSync(path, ["#!/bin/bash", `#SBATCH -o "${runDir}/slurm-%j.out"`, body, ""].join("\n"));
  const log = `${runDir}/slurm-%j.out`;
  return { id: freshRunId(), name, script: { path }, logs: { stdout: log, stderr: log } };
}

export async function hostHome(): Promise<string> {
  return (await execa("sh", ["-c", `getent passwd ${TEST_USER} | cut -d: -f6`])).stdout.trim();
}

export interface HostJob {
  raw_id: number;
  state: string;
  user: string;
  stdout: string;
  boot_id?: string;
  pid?: number;
  runner_pid?: number;
}

export function hostJobFile(home: string, rawId: string | number): string {
  return join(home, ".local", "state", "slurmpipe", "local", "jobs", `${rawId}.json`);
}

export function readHostJob(home: string, rawId: string | number): HostJob {
  return JSON.parse(readFileSync(hostJobFile(home, rawId), "utf8")) as HostJob;
}

export function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every job file of the test user's local backend on HOST. */
export function hostJobs(home: string): (HostJob & { name: string })[] {
  const dir = join(home, ".local", "state", "slurmpipe", "local", "jobs");
  return readdirSync(dir)
    .filter((n) => /^\d+\.json$/.test(n))
    .map((n) => JSON.parse(readFileSync(join(dir, n), "utf8")) as HostJob & { name: string });
}

/**
 * The connection drops hard: the ControlMaster of `stateDir`, sshd and its session processes
 * killed -9 (returns the master's pid, gone when this returns).
 */
export async function dropConnection(sshd: Sshd, stateDir: string): Promise<number> {
  const dest = parseRemoteHost(sshd.host).destination;
  const ctl = await execa(sshd.sshBin, ["-o", `ControlPath=${controlPath(parseRemoteHost(sshd.host), stateDir)}`, "-O", "check", "-p", String(sshd.port), dest], { reject: false });
  const master = Number(/pid=(\d+)/.exec(ctl.stderr)?.[1]);
  if (!(master > 0)) throw new Error(`no ControlMaster: ${ctl.stderr}`);
  const sessions = (await execa("pgrep", ["-P", String(sshd.pid())], { reject: false })).stdout.split("\n").filter(Boolean).map(Number);
  process.kill(master, "SIGKILL");
  await sshd.stop();
  for (const pid of sessions) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone with the master
    }
  }
  await until("the master to be gone", () => !alive(master));
  return master;
}

/**
 * The same sshd (config, host key, port, log) started again, as a box's sshd comes back. Wrapped:
 * an execa process is a thenable, which an async function would wait for (until sshd exits).
 */
export async function restartSshd(sshd: Sshd): Promise<{ proc: ResultPromise }> {
  const count = () => readFileSync(sshd.log, "utf8").split("Server listening").length;
  const before = count();
  const proc = execa("/usr/sbin/sshd", ["-D", "-E", sshd.log, "-f", join(sshd.dir, "sshd_config")], { reject: false, stdio: "ignore" });
  await until("sshd to listen again", () => count() > before);
  return { proc };
}
