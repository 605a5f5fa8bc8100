// docs/recipes/tier3-sweep.md, run as written on both backends, on the real trainers
// (fixtures/tier3-real.yaml: a plain PyTorch loop and an HF Trainer, 6 runs): the two lr=1 loops
// diverge for real, the recovery step applies log-parse's suggested fix and they complete with a
// finite loss as attempt 2. (Host OOM needs a memory limit the shared dev cluster does not enforce:
// test/cluster/nodes.test.ts kills a real trainer through cgroups on a private instance.)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { repoRoot } from "../support/cli.ts";
import { requireCluster } from "../support/slurm.ts";
import { backends, cancelOwn, ensureBin, ledgerEntries, loadRecipe, readRecords, runStep, scratch } from "./support/recipe.ts";

const recipe = loadRecipe("tier3-sweep");
let python = "";

interface Run {
  kind: string;
  name: string;
  state: { state: string };
  job: { attempt: number };
  report: { loss: { trend: string; last: number | null }; failures: { class: string; suggested: { changes: { params?: Record<string, number> } } }[] };
}
const runsOf = (file: string) => new Map((readRecords(file).filter((r) => r.kind === "run") as unknown as Run[]).map((r) => [r.name, r]));

beforeAll(async () => {
  python = String((await execa("bash", [join(repoRoot, "scripts/real-venv")])).stdout).trim();
  await ensureBin();
}, 600_000);

for (const backend of backends()) {
  backend.describe(`tier3-sweep recipe on the real trainers (${backend.name})`, () => {
    const s = scratch(`real-tier3-${backend.name}`);
    const env = () => ({
      ...s.env,
      ...backend.env(),
      SWEEP: join(repoRoot, "test/e2e/fixtures/tier3-real.yaml"),
      SWEEP_FLAGS: `-p python=${python} -p real=${join(repoRoot, "examples/real")}`,
      INTERVAL: backend.name === "local" ? "1s" : "2s",
    });
    const step = (name: string) => runStep(recipe, name, s.dir, env());
    beforeAll(() => {
      if (backend.name === "slurm") requireCluster();
    });
    afterAll(async () => {
      await cancelOwn(join(s.dir, ".slurmpipe"), backend.name, s.env.SLURMPIPE_LOCAL_DIR);
      s.cleanup();
    });

    it("the lr=1 loops go NaN for real, are recovered with the suggested fix as attempt 2, and every run completes", async () => {
      expect((await step("generate")).stdout.split("\n")[0]).toBe("6");
      await step("submit");
      await step("wait");
      const first = runsOf(join(s.dir, "parsed.ndjson"));
      expect(first.size).toBe(6);
      for (const [name, run] of first) {
        if (name.includes("_lr1_")) {
          expect([name, run.state.state, run.report.loss.trend, run.report.failures[0]?.class]).toEqual([name, "COMPLETED", "NAN", "NAN_LOSS"]);
          expect(run.report.failures[0]!.suggested.changes.params).toEqual({ lr: 0.5, grad_clip_norm: 1 });
        } else expect([name, run.state.state, run.report.failures]).toEqual([name, "COMPLETED", []]);
      }

      const r = await step("recover");
      expect(r.stdout).toMatch(/real-loop_lr1_s0: NAN_LOSS -> \{"params":\{"lr":0\.5,"grad_clip_norm":1\}\}/);
      const resubmitted = runsOf(join(s.dir, "resubmitted.ndjson"));
      expect([...resubmitted.keys()].sort()).toEqual(["real-loop_lr1_s0", "real-loop_lr1_s1"]);

      const c = await step("complete");
      expect(c.stdout.trim()).toBe("**6 of 6 completed (100%)** · 6 finished (100%) · 0 failed · 0 pending or running");
      const final = runsOf(join(s.dir, "final.ndjson"));
      for (const name of ["real-loop_lr1_s0", "real-loop_lr1_s1"]) {
        const run = final.get(name)!;
        expect(run.job.attempt, name).toBe(2);
        expect(run.report.failures, name).toEqual([]);
        expect(Number.isFinite(run.report.loss.last), name).toBe(true);
      }
      const perRun = new Map<string, number>();
      for (const e of ledgerEntries(join(s.dir, ".slurmpipe"), "submitted")) perRun.set(String(e.run_id), (perRun.get(String(e.run_id)) ?? 0) + 1);
      expect([...perRun.values()].sort()).toEqual([1, 1, 1, 1, 2, 2]);
      const status = readFileSync(join(s.dir, "STATUS.md"), "utf8");
      expect(status).toMatch(/lr=0\.5 \(sweep: 1\)/);
    }, 600_000);
  });
}
