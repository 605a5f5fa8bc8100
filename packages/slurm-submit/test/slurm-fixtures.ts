import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { execa } from "execa";

/** Helpers shared by the slurm-submit integration and chaos tests. */

/** A run id unique to this test run, so sacct never sees an earlier run's jobs under the same tag. */
export function freshRunId(): string {
  return randomBytes(8).toString("hex");
}

/** Writes `<dir>/<name>/job.sbatch` and returns its run record. */
export function tinyRun(dir: string, name: string, body = "sleep 1", directives: string[] = []): Record<string, unknown> {
  const runDir = join(dir, name);
  mkdirSync(runDir, { recursive: true });
  const path = join(runDir, "job.sbatch");
  writeFileSync(path, ["#!/bin/bash", `#SBATCH -o ${runDir}/slurm-%j.out`, ...directives.map((d) => `#SBATCH ${d}`), body, ""].join("\n"));
  return { id: freshRunId(), name, script: { path } };
}

export function ndjson(recs: Record<string, unknown>[]): string {
  return recs.map((r) => JSON.stringify(r)).join("\n") + "\n";
}

/** Jobs per job name, from squeue -t all (slurmctld's memory) and sacct with an explicit window. */
export async function countByName(names: string[]): Promise<{ squeue: Map<string, string[]>; sacct: Map<string, string[]> }> {
  const list = names.join(",");
  const sq = await execa("squeue", ["-h", "-t", "all", `--name=${list}`, "-o", "%i|%j"]);
  const sa = await execa("sacct", ["-X", "-n", "-P", `--name=${list}`, "-S", "now-1days", "-E", "now", "-o", "JobID,JobName"]);
  const collect = (text: string) => {
    const m = new Map<string, string[]>();
    for (const line of text.split("\n").filter(Boolean)) {
      const [id, name] = line.split("|") as [string, string];
      m.set(name, [...(m.get(name) ?? []), id]);
    }
    return m;
  };
  return { squeue: collect(String(sq.stdout)), sacct: collect(String(sa.stdout)) };
}

/** Waits until sacct shows a job for every name (it lags slurmctld by seconds). */
export async function waitForSacct(names: string[], timeoutMs = 60_000): Promise<Map<string, string[]>> {
  const end = Date.now() + timeoutMs;
  let last = new Map<string, string[]>();
  while (Date.now() < end) {
    last = (await countByName(names)).sacct;
    if (names.every((n) => last.has(n))) return last;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return last;
}

/** Cancels the given job ids (ours only); ignores ids that already ended. */
export async function cancel(ids: string[]): Promise<void> {
  if (ids.length > 0) await execa("scancel", ids, { reject: false });
}

/** A bin dir that forwards squeue/sacct/scontrol/scancel to the real ones and uses `sbatch` as given. */
export async function wrapperBin(dir: string, sbatchScript: (realSbatch: string) => string): Promise<string> {
  const bin = join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  for (const cmd of ["squeue", "sacct", "scontrol", "scancel", "sbatch"]) {
    const real = String((await execa("sh", ["-c", `command -v ${cmd}`])).stdout).trim();
    const text = cmd === "sbatch" ? sbatchScript(real) : `#!/bin/sh\nexec "${real}" "$@"\n`;
    writeFileSync(join(bin, cmd), text);
    chmodSync(join(bin, cmd), 0o755);
  }
  return bin;
}
