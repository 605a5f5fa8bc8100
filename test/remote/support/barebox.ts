import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { freshRunId } from "../../../packages/slurm-submit/test/slurm-fixtures.ts";
import { TEST_USER } from "./sshd.ts";

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
