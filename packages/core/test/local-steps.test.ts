// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the job scripts here are bash code, ${...} is bash's
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseSbatchParsable, parseState, runLocalSlurm } from "../src/index.ts";
import { STEP_SHIMS } from "../src/local/step-shims.ts";

// Scripts that call srun / scontrol requeue / module, run by the local backend (issue #14 item 11).
function setup() {
  const root = mkdtempSync(join(tmpdir(), "sp-local-steps-"));
  const dir = join(root, "state");
  const work = join(root, "work");
  mkdirSync(join(work, "logs"), { recursive: true });
  const script = (name: string, body: string, directives = "") => {
    const p = join(work, `${name}.sh`);
    writeFileSync(p, `#!/bin/bash\n#SBATCH --output=logs/%x-%j.out\n#SBATCH --job-name=${name}\n${directives}\n${body}\n`);
    chmodSync(p, 0o755);
    return p;
  };
  const run = (cmd: string, args: string[]) => runLocalSlurm(cmd, args, { dir, cwd: work, maxParallel: 4 });
  const sbatch = async (args: string[]) => {
    const r = await run("sbatch", ["--parsable", ...args]);
    expect(r.stderr).toBe("");
    return parseSbatchParsable(r.stdout).jobId;
  };
  const wait = async (id: string) => {
    for (;;) {
      const r = await run("sacct", ["-X", "-P", "-n", "-o", "JobID,State,ExitCode,Restarts", "-j", id]);
      const [, state, exit, restarts] = r.stdout.trim().split("|");
      if (state && parseState(state).terminal) return { state, exit, restarts };
      await new Promise((res) => setTimeout(res, 200));
    }
  };
  const log = (name: string, id: string) => readFileSync(join(work, "logs", `${name}-${id}.out`), "utf8");
  return { dir, work, script, run, sbatch, wait, log };
}

const host = hostname().split(".")[0]!;

describe("local backend: job steps (srun), requeue, modules", () => {
  it("the shims are valid bash", () => {
    for (const [name, text] of Object.entries(STEP_SHIMS)) {
      const r = spawnSync("bash", ["-n"], { input: text, encoding: "utf8" });
      expect(r.stderr, name).toBe("");
      expect(r.status, name).toBe(0);
    }
  });

  it("srun runs the command as a job step with Slurm's step environment, before any Slurm srun on PATH", async () => {
    const t = setup();
    const body = [
      "set -euo pipefail",
      'echo "srun=$(command -v srun)"',
      "srun bash -c 'echo step=$SLURM_STEP_ID stepid=$SLURM_STEPID procid=$SLURM_PROCID ntasks=$SLURM_NTASKS nodes=$SLURM_STEP_NUM_NODES node=$SLURM_STEP_NODELIST'",
      "srun --ntasks=2 --cpu-bind=cores bash -c 'echo task=$SLURM_PROCID of=$SLURM_STEP_NUM_TASKS step=$SLURM_STEP_ID' | sort",
      "srun -n1 -c 2 bash -c 'echo cpus=$SLURM_CPUS_PER_TASK step=$SLURM_STEP_ID'",
      "mkdir -p sub && printf '#!/bin/bash\\necho in $PWD\\n' > sub/here.sh && chmod +x sub/here.sh && srun --chdir=sub ./here.sh",
    ].join("\n");
    const id = await t.sbatch([t.script("steps", body)]);
    expect(await t.wait(id)).toMatchObject({ state: "COMPLETED", exit: "0:0" });
    const out = t.log("steps", id);
    expect(out).toContain(`srun=${join(t.dir, "bin", "srun")}\n`);
    expect(out).toContain(`step=0 stepid=0 procid=0 ntasks=1 nodes=1 node=${host}\n`);
    expect(out).toContain("task=0 of=2 step=1\ntask=1 of=2 step=1\n");
    expect(out).toContain("cpus=2 step=2\n");
    expect(out).toContain(`in ${join(t.work, "sub")}\n`);
  });

  it("plain srun runs the job's --ntasks copies; -N 2 is refused as on a one-node allocation", async () => {
    const t = setup();
    const id = await t.sbatch(["-n", "3", t.script("copies", "srun bash -c 'echo copy $SLURM_PROCID' | sort\nsrun -N 2 true || echo \"rc=$?\"")]);
    expect((await t.wait(id)).state).toBe("COMPLETED");
    const out = t.log("copies", id);
    expect(out).toContain("copy 0\ncopy 1\ncopy 2\n");
    expect(out).toContain("srun: error: Only allocated 1 nodes asked for 2\nrc=1\n");
  });

  it("srun exits with the task's status and says so as srun does; the job fails with it", async () => {
    const t = setup();
    const body = ["srun bash -c 'exit 3' || echo \"rc=$?\"", "srun -n 2 bash -c 'kill -TERM $$' || echo \"rc=$?\"", "srun no-such-program-xyz || echo \"rc=$?\"", "srun false"].join("\n");
    const id = await t.sbatch([t.script("status", body, "#SBATCH --error=logs/%x-%j.out")]);
    expect(await t.wait(id)).toMatchObject({ state: "FAILED", exit: "1:0" });
    const out = t.log("status", id);
    expect(out).toContain(`srun: error: ${host}: task 0: Exited with exit code 3\nrc=3\n`);
    expect(out).toContain(`srun: error: ${host}: tasks 0-1: Terminated\nrc=143\n`);
    expect(out).toContain("slurmstepd: error: execve(): no-such-program-xyz: No such file or directory\n");
    expect(out).toContain("rc=2\n");
    expect(out).toContain(`srun: error: ${host}: task 0: Exited with exit code 1\n`);
  });

  it("srun forwards SIGTERM sent to it (the batch shell's trap) to the step and exits with the step's status", async () => {
    const t = setup();
    const body = [
      "srun bash -c 'trap \"echo step got TERM; exit 7\" TERM; echo started; sleep 30 & wait' &",
      "child=$!",
      "until grep -q started logs/*.out 2>/dev/null; do sleep 0.1; done",
      'kill -TERM "$child"',
      'wait "$child"; echo "srun rc=$?"',
    ].join("\n");
    const id = await t.sbatch([t.script("forward", body)]);
    expect((await t.wait(id)).state).toBe("COMPLETED");
    const out = t.log("forward", id);
    expect(out).toContain("step got TERM\n");
    expect(out).toContain("srun rc=7\n");
  });

  it("the time limit and scancel reach the step under srun (SIGTERM, as slurmstepd signals every step)", async () => {
    const t = setup();
    const step = "srun bash -c 'trap \"echo step got TERM; exit 0\" TERM; echo started; sleep 60 & wait'";
    const timed = await t.sbatch(["--time=0:02", t.script("limit", step)]);
    const cancelled = await t.sbatch([t.script("cancel", step)]);
    const started = () => existsSync(join(t.work, "logs", `cancel-${cancelled}.out`)) && t.log("cancel", cancelled).includes("started");
    while (!started()) await new Promise((r) => setTimeout(r, 100));
    await t.run("scancel", [cancelled]);
    expect((await t.wait(timed)).state).toBe("TIMEOUT");
    expect((await t.wait(cancelled)).state).toMatch(/^CANCELLED/);
    expect(t.log("limit", timed)).toMatch(/started\n[\s\S]*step got TERM\n/);
    expect(t.log("cancel", cancelled)).toMatch(/started\n[\s\S]*step got TERM\n/);
  });

  it("--signal=B:TERM@T warns the batch shell before the limit; scontrol requeue runs the script again, Restarts 1", async () => {
    const t = setup();
    // The rendered requeue-on-signal pattern (slurm-render script.ts), shortened. The warning comes
    // 1 s in, the step takes 4 s to checkpoint; the second run outlives the first run's time limit
    // (10 s after the first start), which must not end it: the limit counts from each run's start.
    // (The second run is warned 1 s in too, as Slurm would: it ignores the warning.)
    const body = [
      'echo "run restarts=${SLURM_RESTART_COUNT:-unset}"',
      'if [ -n "${SLURM_RESTART_COUNT:-}" ]; then trap "" TERM; sleep 7; srun bash -c "echo resumed in step \\$SLURM_STEP_ID"; exit 0; fi',
      "sp_term=",
      "trap 'sp_term=1; kill -TERM \"$sp_child\"' TERM",
      "srun bash -c 'trap \"sleep 4; echo checkpoint; exit 0\" TERM; sleep 60 & wait' &",
      "sp_child=$!",
      'while :; do wait "$sp_child"; kill -0 "$sp_child" 2>/dev/null || break; done',
      'if [ -n "$sp_term" ]; then scontrol requeue "$SLURM_JOB_ID" && echo requeued; fi',
    ].join("\n");
    const id = await t.sbatch([t.script("requeue", body, "#SBATCH --time=00:10\n#SBATCH --signal=B:TERM@9\n#SBATCH --requeue\n#SBATCH --open-mode=append")]);
    const submitTime = async () => (await t.run("sacct", ["-X", "-P", "-n", "-o", "Submit", "-j", id])).stdout.trim();
    const firstSubmit = await submitTime();
    expect(await t.wait(id)).toEqual({ state: "COMPLETED", exit: "0:0", restarts: "1" });
    // As slurmctld: a requeue resets Submit (slurm-facts §4.6); slurm-poll counts restarts by it.
    expect(Date.parse(await submitTime())).toBeGreaterThan(Date.parse(firstSubmit));
    const out = t.log("requeue", id);
    expect(out).toMatch(/run restarts=unset\ncheckpoint\nrequeued\n/);
    expect(out).toMatch(/DUE TO JOB REQUEUE \*\*\*\n[\s\S]*run restarts=1\nresumed in step 0\n/);
    expect(out).not.toContain("DUE TO TIME LIMIT");
  });

  it("srun refuses what it does not understand as srun does (exit 255), and runs only inside a local job", async () => {
    const t = setup();
    const body = ["srun --bogus true || echo \"rc=$?\"", "srun -n || echo \"rc=$?\"", "srun --label true || echo \"rc=$?\""].join("\n");
    const id = await t.sbatch([t.script("usage", body, "#SBATCH --error=logs/%x-%j.out")]);
    expect((await t.wait(id)).state).toBe("COMPLETED");
    const out = t.log("usage", id);
    expect(out).toContain(`srun: unrecognized option '--bogus'\nTry "srun --help" for more information\nrc=255\n`);
    expect(out).toContain(`srun: option requires an argument -- 'n'\nTry "srun --help" for more information\nrc=255\n`);
    expect(out).toContain("srun: error: --label is not supported by the local backend's srun\nrc=1\n");
    const outside = spawnSync(join(t.dir, "bin", "srun"), ["true"], { encoding: "utf8", env: { PATH: process.env.PATH ?? "" } });
    expect(outside.status).toBe(1);
    expect(outside.stderr).toMatch(/inside a job submitted with --backend local/);
  });

  it("sbatch refuses a malformed --signal, --ntasks or --cpus-per-task as sbatch does (exit 255)", async () => {
    const t = setup();
    const script = t.script("noop", "true");
    for (const bad of ["--signal=B:BOGUS@10", "--signal=B:USR1@70000", "--signal=X:USR1@10", "--ntasks=0", "--cpus-per-task=two"]) {
      const r = await t.run("sbatch", [bad, script]);
      expect(r.exitCode, bad).toBe(255);
      expect(r.stderr, bad).toMatch(/^sbatch: error: Invalid/);
    }
    const held: string[] = [];
    for (const good of ["--signal=B:TERM@120", "--signal=B:SIGTERM@120", "--signal=B:15@120", "--signal=USR1"]) {
      const r = await t.run("sbatch", ["--parsable", "--hold", good, script]);
      expect(r.exitCode, `${good}: ${r.stderr}`).toBe(0);
      held.push(r.stdout.trim());
    }
    await t.run("scancel", held);
  });

  it("scontrol requeue is refused as by Slurm: an unknown id, a pending job, a --no-requeue job", async () => {
    const t = setup();
    const held = await t.sbatch(["--hold", t.script("held", "true")]);
    const body = [`scontrol requeue 999999 || echo "rc=$?"`, `scontrol requeue ${held} || echo "rc=$?"`, 'scontrol requeue "$SLURM_JOB_ID" || echo "rc=$?"', "scontrol show hostnames"].join("\n");
    const id = await t.sbatch(["--no-requeue", t.script("refused", body, "#SBATCH --error=logs/%x-%j.out")]);
    expect((await t.wait(id)).state).toBe("COMPLETED");
    const out = t.log("refused", id);
    expect(out).toContain("Invalid job id specified for job 999999\nrc=1\n");
    expect(out).toContain(`Job is pending execution for job ${held}\nrc=1\n`);
    expect(out).toContain(`Requested operation is presently disabled for job ${id}\nrc=1\n`);
    expect(out).toContain(`${host}\n`);
    await t.run("scancel", [held]);
  });

  it("a site profile's module load fails at once, naming the profile and the profiles to use", async () => {
    const t = setup();
    const body = ["# slurmpipe run r0123456789 (demo), profile lumi", "set -euo pipefail", "set +u", "module load LUMI/24.03 partition/G", "echo not reached"].join("\n");
    const id = await t.sbatch([t.script("site", body, "#SBATCH --error=logs/%x-%j.out")]);
    expect(await t.wait(id)).toMatchObject({ state: "FAILED", exit: "127:0" });
    const out = t.log("site", id);
    expect(out).toMatch(/module load LUMI\/24\.03 partition\/G: this machine has no environment modules\. This script was rendered with profile lumi, .*--profile local \(or --profile generic\)/);
    expect(out).not.toContain("not reached");
  });
});
