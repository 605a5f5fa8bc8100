import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { repoRoot } from "../support/cli.ts";
import { requireCluster } from "../support/slurm.ts";
import { backends, cancelOwn, ensureBin, loadRecipe, readRecords, runStep, scratch } from "./support/recipe.ts";

// docs/recipes/sample-run.md, run as written, on both backends: a healthy run is READY, a run whose
// code raises at step 4 is caught by --early and is NOT READY.
const recipe = loadRecipe("sample-run");
const trainer = join(repoRoot, "test/e2e/fixtures/trainer.py");

/** A two-run sweep; the sample is its first run. 20 sample steps x 0.15 s (not "suspiciously fast"). */
function sweep(name: string, extra: string): string {
  return [
    `command: [python3, ${JSON.stringify(trainer)}]`,
    "args: hydra",
    `name: "e2e-${name}-lr{lr}"`,
    `params: { step_time: 0.15, log_every: 2${extra} }`,
    "grid: { lr: [0.1, 0.2] }",
    'resources: { time: "00:05:00", mem: 512M }',
    "",
  ].join("\n");
}

for (const backend of backends()) {
  backend.describe(`sample-run recipe (${backend.name})`, () => {
    const s = scratch(`sample-${backend.name}`);
    const env = (dir: string, sweepFile: string) => ({
      ...s.env,
      ...backend.env(),
      SWEEP: sweepFile,
      SAMPLE_STEPS: "20",
      FULL_STEPS: "2000",
      INTERVAL: backend.name === "local" ? "1s" : "2s",
      HOME: dir,
    });

    beforeAll(async () => {
      if (backend.name === "slurm") requireCluster();
      await ensureBin();
    });
    afterAll(async () => {
      for (const sub of ["healthy", "broken"]) await cancelOwn(join(s.dir, sub, ".slurmpipe-sample"), backend.name, s.env.SLURMPIPE_LOCAL_DIR);
      s.cleanup();
    });

    async function runRecipe(sub: string, extra: string) {
      const dir = join(s.dir, sub);
      const { mkdirSync } = await import("node:fs");
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "sweep.yaml"), sweep(sub, extra));
      const e = env(dir, "sweep.yaml");
      const out: Record<string, { stdout: string; stderr: string }> = {};
      for (const step of ["render", "submit", "check", "report"]) out[step] = await runStep(recipe, step, dir, e);
      return { dir, out, report: readFileSync(join(dir, "SAMPLE_RUN.md"), "utf8") };
    }

    it("a healthy run: sample rendered scope-reduced, COMPLETED 0:0, loss decreasing, READY with a wall-time estimate", async () => {
      const { dir, out, report } = await runRecipe("healthy", "");
      const [sample] = readRecords(join(dir, "sample.ndjson"));
      const script = readFileSync((sample!.script as { path: string }).path, "utf8");
      expect(script).toMatch(/train.* max_steps=20$/m);
      expect(script).toMatch(/^#SBATCH --time=00:15:00$/m);
      expect(script).toMatch(/^#SBATCH --job-name=sample-e2e-healthy-lr0\.1$/m);

      const [parsed] = readRecords(join(dir, "sample-parsed.ndjson")).filter((r) => r.kind === "run");
      const state = parsed!.state as { state: string; exit_code: string };
      expect(state.state).toBe("COMPLETED");
      expect(state.exit_code).toBe("0:0");
      const report_ = parsed!.report as { loss: { trend: string; first: number; last: number }; failures: unknown[]; steps_seen: number };
      expect(report_.loss.trend).toBe("DECREASING");
      expect(report_.loss.last).toBeLessThan(report_.loss.first);
      expect(report_.failures).toEqual([]);
      expect(report_.steps_seen).toBe(20);
      expect(out.check!.stdout.trim()).toMatch(/^job \d+: COMPLETED exit 0:0, loss [\d.]+ -> [\d.]+ \(DECREASING\), failures: none$/);

      expect(report).toMatch(/^## Verdict$/m);
      expect(report).toMatch(/\*\*READY\*\*/);
      expect(report).not.toMatch(/NOT READY/);
      expect(report).toContain(`Job ID: ${(parsed!.job as { id: string }).id}`);
      // 20 steps took a few seconds: 2000 steps x 1.2 is at least 2000 x 0.15 s x 1.2 = 6 minutes.
      const wall = /Estimated wall time: (\d+):(\d\d):(\d\d)/.exec(report);
      expect(wall, report).not.toBeNull();
      const seconds = Number(wall![1]) * 3600 + Number(wall![2]) * 60 + Number(wall![3]);
      expect(seconds).toBeGreaterThanOrEqual(360);
      expect(out.report!.stdout).toMatch(/^## Verdict/m);
    });

    it("a run that crashes at step 4: reported early with its stderr tail, FAILED, NOT READY with the cause", async () => {
      const { dir, out, report } = await runRecipe("broken", ", fail: exception, fail_at: 4");
      const [polled] = readRecords(join(dir, "sample-polled.ndjson")).filter((r) => r.kind === "run");
      const state = polled!.state as { state: string; exit_code: string; early_failure?: { tail: string | string[] } };
      expect(state.state).toBe("FAILED");
      expect(state.exit_code).toBe("1:0");
      expect(JSON.stringify(state.early_failure?.tail)).toContain("ValueError");
      expect(out.submit!.stderr).toMatch(/ValueError: target size/);

      const [parsed] = readRecords(join(dir, "sample-parsed.ndjson")).filter((r) => r.kind === "run");
      const failures = (parsed!.report as { failures: { class: string }[] }).failures;
      expect(failures.map((f) => f.class)).toContain("PYTHON_EXCEPTION");
      expect(out.check!.stdout).toMatch(/FAILED exit 1:0, .*failures: PYTHON_EXCEPTION/);

      expect(report).toMatch(/NOT READY/);
      expect(report).toMatch(/FAILED/);
      expect(report).toMatch(/PYTHON_EXCEPTION|ValueError/);
    });
  });
}
