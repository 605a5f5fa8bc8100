import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../support/cli.ts";
import { cancelOwn, ensureBin, loadRecipe, readRecords, runStep, scratch } from "./support/recipe.ts";

// docs/recipes/sample-run.md with BACKEND=local and EACH built-in profile (issue #14 item 11).
// generic renders the command under `srun` (a job step); local runs it in the batch shell: both
// run here, the local backend's srun running the step in the job's own allocation, ahead of the
// Slurm srun installed on this machine. lumi and olivia load their site's modules (and olivia
// runs the command in an Apptainer container): they run on their site only, and the job fails at
// once with an error that names the profiles to use here.
const recipe = loadRecipe("sample-run");
const trainer = join(repoRoot, "test/e2e/fixtures/trainer.py");

function sweep(name: string): string {
  return [
    `command: [python3, ${JSON.stringify(trainer)}]`,
    "args: hydra",
    `name: "lp-${name}-lr{lr}"`,
    "params: { step_time: 0.05, log_every: 2 }",
    "grid: { lr: [0.1, 0.2] }",
    'resources: { time: "00:05:00", mem: 512M }',
    "",
  ].join("\n");
}

const PROFILES: { profile: string; flags: string; runs: boolean }[] = [
  { profile: "generic", flags: "", runs: true },
  { profile: "local", flags: "", runs: true },
  { profile: "lumi", flags: "--account project_465000123 --container /appl/local/laifs/containers/lumi-multitorch-latest.sif", runs: false },
  { profile: "olivia", flags: "--account nn1234k --container /cluster/images/pytorch.sif", runs: false },
];

describe("sample-run recipe on the local backend, every built-in profile", () => {
  const s = scratch("local-profiles");
  beforeAll(ensureBin);
  afterAll(async () => {
    for (const { profile } of PROFILES) await cancelOwn(join(s.dir, profile, ".slurmpipe-sample"), "local", s.env.SLURMPIPE_LOCAL_DIR);
    s.cleanup();
  });

  async function runRecipe(profile: string, flags: string) {
    const dir = join(s.dir, profile);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "sweep.yaml"), sweep(profile));
    const env = { ...s.env, BACKEND: "local", PROFILE: profile, RENDER_FLAGS: flags, SWEEP: "sweep.yaml", SAMPLE_STEPS: "20", FULL_STEPS: "2000", INTERVAL: "1s", HOME: dir };
    const out: Record<string, { stdout: string; stderr: string }> = {};
    for (const step of ["render", "submit", "check", "report"]) out[step] = await runStep(recipe, step, dir, env);
    const [parsed] = readRecords(join(dir, "sample-parsed.ndjson")).filter((r) => r.kind === "run");
    const [sample] = readRecords(join(dir, "sample.ndjson"));
    const script = readFileSync((sample!.script as { path: string }).path, "utf8");
    return { out, parsed: parsed!, script, report: readFileSync(join(dir, "SAMPLE_RUN.md"), "utf8") };
  }

  for (const { profile, flags, runs } of PROFILES.filter((p) => p.runs)) {
    it(`PROFILE=${profile}: the sample runs to COMPLETED 0:0 and is READY`, async () => {
      const { out, parsed, script, report } = await runRecipe(profile, flags);
      // generic puts the command under srun; on this machine a Slurm srun is installed too.
      if (profile === "generic") expect(script).toMatch(/^srun .*trainer\.py/m);
      if (profile === "local") expect(script).not.toMatch(/^srun /m);
      const state = parsed.state as { state: string; exit_code: string };
      expect(state, JSON.stringify(parsed)).toMatchObject({ state: "COMPLETED", exit_code: "0:0" });
      expect(out.check!.stdout).toMatch(/COMPLETED exit 0:0, .*\(DECREASING\), failures: none/);
      expect((parsed.report as { steps_seen: number }).steps_seen).toBe(20);
      expect(report).toMatch(/\*\*READY\*\*/);
      expect(report).not.toMatch(/NOT READY/);
      expect(runs).toBe(true);
      // Neither the Slurm srun installed on this machine ("Unable to confirm allocation ... Invalid
      // job id") nor a missing one ("srun: command not found") was reached.
      const jobId = (parsed.job as { id: string }).id;
      const stderrLog = readFileSync((parsed.logs as { stderr: string }).stderr.replace("%j", jobId), "utf8");
      expect(stderrLog).not.toMatch(/Invalid job id|Unable to confirm allocation|command not found/);
    });
  }

  for (const { profile, flags } of PROFILES.filter((p) => !p.runs)) {
    it(`PROFILE=${profile}: the job fails at once with an error naming the profiles that run here`, async () => {
      const { out, parsed, script, report } = await runRecipe(profile, flags);
      expect(script).toMatch(/^module load /m);
      const state = parsed.state as { state: string; exit_code: string };
      expect(state).toMatchObject({ state: "FAILED", exit_code: "127:0" });
      const hint = new RegExp(`this machine has no environment modules\\. This script was rendered with profile ${profile}, .*render it with --profile local \\(or --profile generic\\)`);
      // --early shows the stderr tail at once, and the log-parse report carries it as evidence.
      expect(out.submit!.stderr).toMatch(hint);
      expect(report).toMatch(/NOT READY/);
    });
  }

  it("a script rendered with --requeue-on-signal checkpoints on the warning, requeues itself and resumes (generic: the step under srun)", async () => {
    const dir = join(s.dir, "requeue");
    mkdirSync(dir, { recursive: true });
    // Stops at the warning with a checkpoint (exit 0); started again, resumes from it and ends.
    writeFileSync(
      join(dir, "resumable.py"),
      [
        "import os, signal, sys, time",
        'ck = "checkpoint.txt"',
        "if os.path.exists(ck):",
        '    print("resumed from", open(ck).read(), "restart", os.environ.get("SLURM_RESTART_COUNT"), "step", os.environ.get("SLURM_STEP_ID"), flush=True)',
        "    sys.exit(0)",
        "def term(*_):",
        '    open(ck, "w").write("step-42")',
        '    print("checkpoint written", flush=True)',
        "    sys.exit(0)",
        "signal.signal(signal.SIGTERM, term)",
        'print("training", flush=True)',
        "time.sleep(120)",
        "",
      ].join("\n"),
    );
    writeFileSync(join(dir, "sweep.yaml"), [`command: [python3, ${JSON.stringify(join(dir, "resumable.py"))}]`, 'name: "lp-requeue"', 'resources: { time: "00:01:00" }', ""].join("\n"));
    const env = { ...s.env, HOME: dir, PATH: `${join(repoRoot, "examples/bin")}:${process.env.PATH}` };
    const sh = (command: string) => execa("bash", ["-c", `set -euo pipefail; ${command}`], { cwd: dir, env, reject: false, timeout: 150_000 });
    // The warning 55 s before the 1-minute limit: 5 s in.
    const render = await sh("sweep-gen sweep.yaml | slurm-render --profile generic --requeue-on-signal 55 > rendered.ndjson");
    expect(render.exitCode, render.stderr).toBe(0);
    const [rendered] = readRecords(join(dir, "rendered.ndjson"));
    const script = readFileSync((rendered!.script as { path: string }).path, "utf8");
    expect(script).toMatch(/^#SBATCH --signal=B:SIGTERM@55$/m);
    expect(script).toMatch(/^srun .*resumable\.py.* &$/m);
    expect(script).toContain('scontrol requeue "$SLURM_JOB_ID"');
    const run = await sh("slurm-submit --backend local --state st < rendered.ndjson | slurm-poll --backend local --state st --interval 1s > polled.ndjson");
    expect(run.exitCode, run.stderr).toBe(0);
    const [polled] = readRecords(join(dir, "polled.ndjson")).filter((r) => r.kind === "run");
    expect(polled!.state).toMatchObject({ state: "COMPLETED", exit_code: "0:0" });
    const jobId = (polled!.job as { id: string }).id;
    const logs = polled!.logs as { stdout: string; stderr: string };
    const stdout = readFileSync(logs.stdout.replace("%j", jobId), "utf8");
    const stderr = readFileSync(logs.stderr.replace("%j", jobId), "utf8");
    expect(stdout).toMatch(/training\ncheckpoint written\n[\s\S]*resumed from step-42 restart 1 step 0\n/);
    expect(stderr).toMatch(/time-limit warning received; requeueing job \d+/);
    expect(stderr).toMatch(/DUE TO JOB REQUEUE/);
    expect(stderr).not.toMatch(/scontrol requeue failed|Invalid job id|DUE TO TIME LIMIT/);
  });
});
