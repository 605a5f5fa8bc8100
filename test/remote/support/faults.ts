import { chmodSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseState } from "@slurmpipe/core";
import { execa } from "execa";
import { expect } from "vitest";
import { sshArgv } from "../../../packages/core/src/remote/ssh.ts";
import { ndjson, tinyRun } from "../../../packages/slurm-submit/test/slurm-fixtures.ts";
import { records, runCli } from "../../support/cli.ts";
import { waitForJobs } from "../../support/slurm.ts";
import type { Sshd } from "./sshd.ts";

/** What the fault tests share: jobs submitted over ssh, the ControlMaster's pid, the verdict on what slurm-poll reported. */

export interface Submitted {
  dir: string;
  state: string;
  stdout: string;
  ids: Map<string, string>;
}

/** A scratch dir the test user's jobs can write their logs into. */
export function jobDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o777);
  return dir;
}

/** Submits one job per body with slurm-submit --remote; returns run name -> job id. */
export async function submitOverSsh(sshd: Sshd, prefix: string, bodies: Record<string, string>): Promise<Submitted> {
  const dir = jobDir(`sp-fault-${prefix}-`);
  const runs = Object.entries(bodies).map(([name, body]) => tinyRun(dir, `${prefix}-${name}`, body));
  for (const r of runs) chmodSync(join(dir, String(r.name)), 0o777);
  const state = join(dir, "state");
  const sub = await runCli("slurm-submit", ["--state", state, "--remote", sshd.host, "--remote-batch-mode"], { input: ndjson(runs), env: { SLURMPIPE_SSH: sshd.sshBin } });
  expect(sub.exitCode, String(sub.stderr)).toBe(0);
  const ids = new Map<string, string>();
  for (const r of records(sub.stdout) as { name: string; job: { id: string } }[]) ids.set(r.name, r.job.id);
  expect(ids.size).toBe(runs.length);
  return { dir, state, stdout: String(sub.stdout), ids };
}

/** The pid of the ControlMaster serving this state dir (`ssh -O check`), or undefined when none is up. */
export async function masterPid(sshd: Sshd, state: string): Promise<number | undefined> {
  const argv = sshArgv({ host: sshd.host, stateDir: state });
  const r = await execa(sshd.sshBin, [...argv.slice(0, -1), "-O", "check", argv[argv.length - 1]!], { reject: false, timeout: 10_000 });
  const m = /pid=(\d+)/.exec(`${r.stdout}${r.stderr}`);
  return m ? Number(m[1]) : undefined;
}

export type PollEvent = { kind?: string; job_id?: string; to?: string; at?: string; reason?: string };

/**
 * The promise, checked against this machine's sacct: each job's one terminal event is its real
 * final state, and none came before `notBefore` for a job that ended while the host was
 * unreachable (slurm-poll could not have known it then: an earlier one would be a guess). A job
 * reported UNKNOWN must say why.
 */
export async function expectRealFinals(out: Record<string, unknown>[], ids: Map<string, string>, unreachable: { from: number; to: number }): Promise<Map<string, string>> {
  const truth = await waitForJobs([...ids.values()], 60_000);
  const evs = out.filter((r) => r.kind === "event") as PollEvent[];
  for (const [name, id] of ids) {
    const real = parseState(String(truth.get(id))).state;
    const terminal = evs.filter((e) => e.job_id === id && parseState(String(e.to)).terminal);
    expect(terminal.map((e) => e.to), `${name} (job ${id}): terminal events`).toEqual([real]);
    const ended = Date.parse((await execa("sacct", ["-j", id, "-X", "-n", "-P", "-o", "End"])).stdout.trim());
    if (ended >= unreachable.from && ended <= unreachable.to) expect(Date.parse(String(terminal[0]!.at)), `${name} ended while the host was unreachable`).toBeGreaterThan(unreachable.to);
    for (const e of evs.filter((x) => x.job_id === id && x.to === "UNKNOWN")) expect(e.reason, `${name}: UNKNOWN without a reason`).toBeTruthy();
  }
  const finals = out.filter((r) => r.kind !== "event") as { state?: { terminal?: boolean } }[];
  expect(finals).toHaveLength(ids.size);
  expect(finals.every((r) => r.state?.terminal)).toBe(true);
  return truth;
}

/** A running command's lines on `stream` (stderr unless told), each with when it arrived. */
export function timedLines(child: { stderr: NodeJS.ReadableStream | null; stdout: NodeJS.ReadableStream | null }, stream: "stderr" | "stdout" = "stderr"): { at: number; line: string }[] {
  const lines: { at: number; line: string }[] = [];
  let rest = "";
  child[stream]?.on("data", (d: Buffer) => {
    const parts = (rest + d.toString()).split("\n");
    rest = parts.pop()!;
    for (const line of parts) lines.push({ at: Date.now(), line });
  });
  return lines;
}
