import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { repoRoot } from "../support/cli.ts";
import { requireCluster } from "../support/slurm.ts";
import { backends, cancelOwn, ensureBin, ledgerEntries, loadRecipe, readRecords, runStep, scratch } from "./support/recipe.ts";

// docs/recipes/tier3-sweep.md, run as written, on both backends, with the Tier-3 sweep scaled down
// to 8 runs (fixtures/tier3-small.yaml): 2 runs die out of host memory, 2 go NaN; the recovery
// step must fix all four from log-parse's suggestions alone.
const recipe = loadRecipe("tier3-sweep");
const fixtures = join(repoRoot, "test/e2e/fixtures");

interface Failure {
  class: string;
  suggested: { changes: { resources?: { mem?: string }; params?: Record<string, number> } };
}
interface Run {
  kind: string;
  name: string;
  group?: string;
  state: { state: string };
  report: { failures: Failure[] };
  job: { attempt: number; name: string };
  script: { path: string };
}
const runsOf = (file: string): Run[] => readRecords(file).filter((r) => r.kind === "run") as unknown as Run[];
const byName = (runs: Run[]) => new Map(runs.map((r) => [r.name, r]));

for (const backend of backends()) {
  backend.describe(`tier3-sweep recipe (${backend.name})`, () => {
    const s = scratch(`tier3-${backend.name}`);
    const env = {
      ...s.env,
      ...backend.env(),
      SWEEP: join(fixtures, "tier3-small.yaml"),
      SWEEP_FLAGS: `-p trainer=${join(fixtures, "trainer.py")}`,
      INTERVAL: backend.name === "local" ? "1s" : "2s",
    };
    const step = (name: string) => runStep(recipe, name, s.dir, env);
    const file = (name: string) => join(s.dir, name);

    beforeAll(async () => {
      if (backend.name === "slurm") requireCluster();
      await ensureBin();
    });
    afterAll(async () => {
      await cancelOwn(file(".slurmpipe"), backend.name, s.env.SLURMPIPE_LOCAL_DIR);
      s.cleanup();
    });

    it("generates 8 runs, counts them and dry-runs the submission without submitting anything", async () => {
      const r = await step("generate");
      expect(r.stdout.split("\n")[0]).toBe("8");
      expect(runsOf(file("runs.ndjson"))).toHaveLength(8);
      const rendered = runsOf(file("rendered.ndjson"));
      expect(rendered.every((run) => existsSync(run.script.path))).toBe(true);
      expect(r.stdout).toMatch(/dry run: 8 would be submitted, 0 already submitted/);
      expect(existsSync(file(".slurmpipe/ledger.ndjson"))).toBe(false);
    });

    it("submits every run once, the higher-priority variant first, and shows status per variant", async () => {
      await step("submit");
      const submitted = runsOf(file("submitted.ndjson"));
      expect(submitted).toHaveLength(8);
      const order = ledgerEntries(file(".slurmpipe"), "submitted").map((e) => (e.record as Partial<Run> | undefined)?.group ?? e.name);
      // S-core (priority 3) is submitted before S-bn-off (priority 2).
      const lastCore = Math.max(...order.map((g, i) => (String(g).includes("S-core") ? i : -1)));
      const firstBnOff = order.findIndex((g) => String(g).includes("S-bn-off"));
      expect(lastCore).toBeLessThan(firstBnOff);

      const m = await step("monitor");
      expect(m.stdout).toMatch(/^### S-core: \d\/4 completed/m);
      expect(m.stdout).toMatch(/^### S-bn-off: \d\/4 completed/m);
      expect(m.stdout).toMatch(/^\*\*\d of 8 completed/m);
      // Running the submit step again submits nothing new.
      await step("submit");
      expect(ledgerEntries(file(".slurmpipe"), "submitted")).toHaveLength(8);
    });

    it("waits for the end: 4 completed, 2 host OOM, 2 NaN, each with a suggested fix as data", async () => {
      await step("wait");
      const runs = byName(runsOf(file("parsed.ndjson")));
      expect(runs.size).toBe(8);
      for (const [name, run] of runs) {
        const oom = /S-core_.*_s1$/.test(name);
        const nan = /S-bn-off_lr0\.1_/.test(name);
        expect(run.state.state, name).toBe(oom || nan ? "FAILED" : "COMPLETED");
        if (oom) {
          expect(run.report.failures[0]!.class, name).toBe("HOST_OOM");
          expect(run.report.failures[0]!.suggested.changes.resources?.mem, name).toBeDefined();
        }
        if (nan) {
          expect(run.report.failures[0]!.class, name).toBe("NAN_LOSS");
          expect(run.report.failures[0]!.suggested.changes.params, name).toEqual({ lr: 0.05, grad_clip_norm: 0.5 });
        }
      }
    });

    it("recovers by class: more memory for the OOMs, lower lr and tighter clipping for the NaNs, as attempt 2", async () => {
      const r = await step("recover");
      expect(r.stdout).toMatch(/S-core_lr0\.05_wd1e-4_s1: HOST_OOM -> \{"resources":\{"mem":"\d+M"\}\}/);
      expect(r.stdout).toMatch(/S-bn-off_lr0\.1_wd1e-4_s0: NAN_LOSS -> \{"params":\{"lr":0\.05,"grad_clip_norm":0\.5\}\}/);
      const resubmitted = byName(runsOf(file("resubmitted.ndjson")));
      expect([...resubmitted.keys()].sort()).toEqual(
        ["e2e-S-bn-off_lr0.1_wd1e-4_s0", "e2e-S-bn-off_lr0.1_wd1e-4_s1", "e2e-S-core_lr0.05_wd1e-4_s1", "e2e-S-core_lr0.1_wd1e-4_s1"].sort(),
      );
      for (const [name, run] of resubmitted) {
        expect(run.job.attempt, name).toBe(2);
        expect(run.job.name, name).toMatch(/r2$/);
        const script = readFileSync(run.script.path, "utf8");
        if (name.includes("S-core")) {
          const mem = /^#SBATCH --mem=(\d+)M$/m.exec(script);
          expect(Number(mem?.[1]), name).toBeGreaterThan(300); // the run needs 300M
        } else {
          expect(script).toMatch(/ lr=0\.05 .*grad_clip_norm=0\.5$/m);
          expect(script).not.toMatch(/ lr=0\.1 /);
          expect(script).not.toMatch(/grad_clip_norm=1\.0/);
        }
      }
    });

    it("the completeness check finds all 8 completed; no run was submitted more than twice", async () => {
      const r = await step("complete");
      expect(r.stdout.trim()).toBe("**8 of 8 completed (100%)** · 8 finished (100%) · 0 failed · 0 pending or running");
      const runs = runsOf(file("final.ndjson"));
      expect(runs).toHaveLength(8);
      expect(runs.every((run) => run.state.state === "COMPLETED")).toBe(true);
      const perRun = new Map<string, number>();
      for (const e of ledgerEntries(file(".slurmpipe"), "submitted")) perRun.set(String(e.run_id), (perRun.get(String(e.run_id)) ?? 0) + 1);
      expect([...perRun.values()].sort()).toEqual([1, 1, 1, 1, 2, 2, 2, 2]);
      const status = readFileSync(file("STATUS.md"), "utf8");
      expect(status).not.toMatch(/MISSING|FAILED \|/);
    });

    it("archives every run with its metrics and verifies the archive", async () => {
      const r = await step("archive");
      expect(r.stdout).toMatch(/tier3-\d{8}T\d{6}Z\.tar\.gz: \d+ files, verified: true/);
      const entries = readRecords(file("archive.ndjson")).filter((e) => e.kind === "archive-entry");
      const runsArchived = new Set(entries.filter((e) => e.run_name !== undefined).map((e) => e.run_name));
      expect(runsArchived.size).toBe(8);
      expect(entries.some((e) => String(e.path).endsWith("metrics.csv") && e.path !== "metrics.csv")).toBe(true);
      expect(entries.filter((e) => e.role === "checkpoint")).toHaveLength(8);
    });
  });
}
