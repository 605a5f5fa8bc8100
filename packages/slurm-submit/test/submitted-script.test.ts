import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { localJobsEnded } from "./local-jobs.ts";

// The built command, as a user runs it (turbo builds the package before its tests).
const CLI = fileURLToPath(new URL("../dist/cli.mjs", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "sp-submit-script-"));
// The local jobs' runners write into scratch until their jobs end (and exit then): wait for that.
afterAll(async () => {
  await localJobsEnded(scratch);
  rmSync(scratch, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
});

function script(name: string, body: string) {
  const path = join(scratch, `${name}.sbatch`);
  const text = `#!/bin/bash\n#SBATCH --output=${scratch}/%j.out\n${body}\n`;
  writeFileSync(path, text);
  return { path, sha256: createHash("sha256").update(text).digest("hex") };
}

function submit(records: object[], args: string[] = []) {
  const r = spawnSync(process.execPath, [CLI, "--backend", "local", "--state", join(scratch, "state"), ...args], {
    input: records.map((x) => `${JSON.stringify(x)}\n`).join(""),
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, SLURMPIPE_LOCAL_DIR: join(scratch, "cluster") },
  });
  const out = r.stdout.trim() ? r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { script: { path: string; sha256: string }; job: { id: string; attempt: number; argv: string[] } }) : [];
  return { code: r.status, out, stderr: r.stderr };
}

describe("slurm-submit: a run already submitted keeps the script its job runs (issue #14 item 9)", () => {
  it("a re-rendered, changed script is not submitted, the record names the submitted one, stderr says so; --resubmit all submits it", () => {
    const first = script("job", "echo first");
    const run = { id: "r1-0123456789abcdef", name: "r1" };
    const one = submit([{ ...run, script: first }]);
    expect(one.code, one.stderr).toBe(0);
    const job = one.out[0]!.job;
    // slurm-render of the changed sweep writes the changed script beside the submitted one.
    const second = script("job.0badc0de", "echo second");
    const two = submit([{ ...run, script: second }]);
    expect(two.code, two.stderr).toBe(0);
    expect(two.out[0]!.job.id).toBe(job.id);
    // Before: the record said job.0badc0de.sbatch while job.argv (and the job) ran job.sbatch.
    expect(two.out[0]!.script).toEqual(first);
    expect(two.out[0]!.job.argv.at(-1)).toBe(first.path);
    expect(two.stderr).toMatch(/rendered again with a changed script .*job\.0badc0de\.sbatch.*not submitted/);
    // Asked for, the new script runs as the next attempt, and that record names it.
    const three = submit([{ ...run, script: second }], ["--resubmit", "all"]);
    expect(three.code, three.stderr).toBe(0);
    expect(three.out[0]!.job.attempt).toBe(2);
    expect(three.out[0]!.script.path).toBe(second.path);
    expect(three.out[0]!.job.argv.at(-1)).toBe(second.path);
  });
});
