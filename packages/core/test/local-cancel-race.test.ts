import { execa } from "execa";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseSbatchParsable, runLocalSlurm } from "../src/index.ts";

const CORE = fileURLToPath(new URL("../dist/index.mjs", import.meta.url));

/**
 * scancel and a job's runner both rewrite the job's file (read, change, write back). A pending job
 * cancelled while its runner was writing its pending reason came back PENDING, the cancel undone,
 * with its queue entry gone, and waited forever (CI: "a held or cancelled job does not block the
 * queue" hung). Both now take the job's lock (`<job>.json.lock`) around their update. Here the test
 * plays the runner in the middle of an update: it holds the lock with the job read, while scancel runs.
 */
describe("local backend: scancel of a pending job is never undone by its runner", () => {
  it("scancel waits for a runner's update in progress, and both changes are kept", async () => {
    const root = mkdtempSync(join(tmpdir(), "sp-local-race-"));
    const dir = join(root, "state");
    const work = join(root, "work");
    mkdirSync(join(work, "logs"), { recursive: true });
    const script = join(work, "job.sh");
    writeFileSync(script, "#!/bin/bash\n#SBATCH --output=logs/%j.out\ntrue\n");
    chmodSync(script, 0o755);
    const run = (cmd: string, args: string[]) => runLocalSlurm(cmd, args, { dir, cwd: work, maxParallel: 1 });
    // Held: its runner leaves it alone, so only the test and scancel write the file.
    const id = parseSbatchParsable((await run("sbatch", ["--parsable", "--hold", script])).stdout).jobId;
    const file = join(dir, "jobs", `${id}.json`);

    // The "runner": takes the lock and reads the job (PENDING) ...
    mkdirSync(`${file}.lock`);
    const stale = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    // ... while scancel runs in another process, as it does for a user.
    const scancel = execa("node", ["--input-type=module", "-e", `import { runLocalSlurm } from ${JSON.stringify(CORE)}; const r = runLocalSlurm("scancel", [${JSON.stringify(id)}], { dir: ${JSON.stringify(dir)} }); await r;`]);
    await new Promise((r) => setTimeout(r, 500));
    // Not cancelled behind the runner's back.
    expect((JSON.parse(readFileSync(file, "utf8")) as { state: string }).state).toBe("PENDING");
    // ... then writes its change and releases the lock.
    writeFileSync(file, JSON.stringify({ ...stale, reason: "JobHeldUser" }));
    rmdirSync(`${file}.lock`);
    await scancel;
    const after = JSON.parse(readFileSync(file, "utf8")) as { state: string; reason: string; cancel_requested?: boolean };
    expect(after.state).toBe("CANCELLED");
    expect(after.cancel_requested).toBe(true);
    expect(after.reason).toBe("JobHeldUser");
  }, 30_000);
});
