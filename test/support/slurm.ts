import { execa } from "execa";
import { describe } from "vitest";

/**
 * Integration tests need the local cluster (`scripts/slurm-dev up`). Without one they are
 * skipped with a one-line reason, except under CI=true, where a missing cluster is a failure.
 */
export interface ClusterStatus {
  available: boolean;
  reason: string;
}

async function probe(): Promise<ClusterStatus> {
  try {
    const sinfo = await execa("sinfo", ["-h", "-o", "%t"], { timeout: 15_000, reject: false });
    if (sinfo.exitCode !== 0) return { available: false, reason: `sinfo failed: ${String(sinfo.stderr).trim() || sinfo.exitCode}` };
    const sacct = await execa("sacct", ["-n", "-X", "-S", "now-1minutes", "-E", "now"], { timeout: 15_000, reject: false });
    if (sacct.exitCode !== 0) return { available: false, reason: `sacct failed: ${String(sacct.stderr).trim()}` };
    return { available: true, reason: "" };
  } catch (e) {
    return { available: false, reason: `no Slurm client on PATH (${(e as Error).message.split("\n")[0]}); run scripts/slurm-dev up` };
  }
}

export const cluster = await probe();
const inCI = process.env.CI === "true";

if (!cluster.available && !inCI) process.stderr.write(`skipping Slurm integration tests: ${cluster.reason}\n`);

/** `describe` for tests that need the real local Slurm. */
export const describeSlurm: typeof describe = (cluster.available || inCI ? describe : describe.skip) as typeof describe;

/** Throws (failing the test) when the cluster is missing under CI. */
export function requireCluster(): void {
  if (!cluster.available) throw new Error(`the local Slurm cluster is not available: ${cluster.reason}`);
}

/** Waits until sacct reports a terminal state for every id, or the deadline. */
export async function waitForJobs(ids: string[], timeoutMs = 120_000): Promise<Map<string, string>> {
  const deadline = Date.now() + timeoutMs;
  const terminal = /^(COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL|DEADLINE|BOOT_FAIL|PREEMPTED)/;
  let states = new Map<string, string>();
  while (Date.now() < deadline) {
    const r = await execa("sacct", ["-n", "-X", "-P", "-o", "JobID,State", "-j", ids.join(",")], { reject: false });
    states = new Map(String(r.stdout).trim().split("\n").filter(Boolean).map((l) => l.split("|") as [string, string]));
    if (ids.every((id) => terminal.test(states.get(id) ?? ""))) return states;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return states;
}
