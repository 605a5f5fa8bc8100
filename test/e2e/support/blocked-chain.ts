import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { records, runCli } from "../../support/cli.ts";

/** An upstream/dependent pair as slurm-submit printed it, with the job ids Slurm gave them. */
export interface SubmittedChain {
  stdout: string;
  submitted: Record<string, unknown>[];
  upJob: string;
  downJob: string;
}

/**
 * Submits an afterok chain whose upstream fails (exit 3) and whose dependent therefore never runs
 * (Slurm leaves it PENDING, reason DependencyNeverSatisfied). `runs` names the two runs; the
 * scripts are written into `dir` and log there.
 */
export async function submitFailedAfterokChain(
  dir: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  runs: { up: { id: string; name: string }; down: { id: string; name: string } },
): Promise<SubmittedChain> {
  const script = (name: string, body: string) => {
    const p = join(dir, `${name}.sh`);
    writeFileSync(p, `#!/bin/bash\n#SBATCH --output=${dir}/%x-%j.out\n#SBATCH --time=00:05:00\n${body}\n`);
    return p;
  };
  const input = [
    { kind: "run", v: 1, ...runs.up, script: { path: script("up", "echo failing >&2; exit 3") } },
    { kind: "run", v: 1, ...runs.down, depends_on: [runs.up.id], script: { path: script("down", "echo never runs") } },
  ];
  const r = await runCli("slurm-submit", args, { cwd: dir, env, input: input.map((x) => JSON.stringify(x)).join("\n") });
  expect(r.exitCode, String(r.stderr)).toBe(0);
  const submitted = records(r.stdout);
  const jobId = (i: number) => String((submitted[i]!.job as { id: string }).id);
  return { stdout: String(r.stdout), submitted, upJob: jobId(0), downJob: jobId(1) };
}
