import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { requireCluster } from "../support/slurm.ts";
import { RUNS, createExperiment, fineTuningTable } from "./support/experiment.ts";
import { backends, cancelOwn, ensureBin, ledgerEntries, loadRecipe, readRecords, runStep, scratch } from "./support/recipe.ts";

// docs/recipes/torchtune-experiment.md, run as written, on both backends: 3 fine-tuning runs and a
// control run; submitted with a (shortened) stagger, monitored into experiment_summary.md and
// run-torchtune.log; then the whole recipe again, which must submit nothing.
const recipe = loadRecipe("torchtune-experiment");
const STAGGER_MS = 1500;
const TS = String.raw`\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\]`;

for (const backend of backends()) {
  backend.describe(`torchtune-experiment recipe (${backend.name})`, () => {
    const s = scratch(`torchtune-${backend.name}`);
    let exp = "";
    let env: Record<string, string> = {};
    const step = (name: string) => runStep(recipe, name, s.dir, env);

    beforeAll(async () => {
      if (backend.name === "slurm") requireCluster();
      await ensureBin();
      const python = (await execa("python3", ["-c", "import sys; print(sys.executable)"])).stdout.trim();
      exp = createExperiment(s.dir, RUNS, python);
      env = { ...s.env, ...backend.env(), EXP: exp, STAGGER: `${STAGGER_MS}ms`, INTERVAL: backend.name === "local" ? "1s" : "2s" };
    });
    afterAll(async () => {
      await cancelOwn(join(exp, ".slurmpipe"), backend.name, s.env.SLURMPIPE_LOCAL_DIR);
      s.cleanup();
    });

    it("submits only the fine-tuning runs, in their directories, at least the stagger apart", async () => {
      const r = await step("submit");
      expect(r.stderr).toMatch(/skipping control run Llama-3\.2-1B-Instruct_base/);
      const submitted = readRecords(join(exp, "submitted.ndjson")) as { name: string; job: { id: string } }[];
      expect(submitted.map((x) => x.name).sort()).toEqual(RUNS.map((x) => x.name).sort());
      // When each sbatch was called (the ledger's "intent" entries, written right after the pacer let
      // the call go), in submission order. The returns ("submitted") are not: sbatch's own latency
      // varies by a few hundred ms on a busy machine.
      const times = ledgerEntries(join(exp, ".slurmpipe"), "intent").map((e) => Date.parse(String(e.at)));
      expect(times).toHaveLength(3);
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(STAGGER_MS - 2);
    });

    it("monitors to the end: the summary's table is current, the rest of the document untouched, run-torchtune.log in the seed's format", async () => {
      const before = readFileSync(join(exp, "experiment_summary.md"), "utf8");
      const r = await step("monitor");
      for (const run of RUNS) expect(r.stdout).toMatch(new RegExp(`${run.name} \\(job \\d+\\): .*-> COMPLETED`));

      const after = readFileSync(join(exp, "experiment_summary.md"), "utf8");
      const table = fineTuningTable(after);
      const jobs = new Map((readRecords(join(exp, "submitted.ndjson")) as { name: string; job: { id: string } }[]).map((x) => [x.name, x.job.id]));
      expect([...table.keys()].sort()).toEqual(RUNS.map((x) => x.name).sort()); // the control run is not added
      for (const [name, [status, jobId, started, completed]] of table) {
        expect(status, name).toBe("COMPLETED");
        expect(jobId, name).toBe(jobs.get(name));
        expect(started, name).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
        expect(completed, name).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      }
      // Only the Fine-tuning table changed.
      const outside = (md: string) => md.replace(/## Fine-tuning[\s\S]*?\n## /, "");
      expect(outside(after)).toBe(outside(before));

      const log = readFileSync(join(exp, "run-torchtune.log"), "utf8");
      for (const run of RUNS) {
        expect(log).toMatch(new RegExp(`^${TS} SUBMIT_JOB: ${run.name}\\nCommand: cd .*${run.name} && sbatch .*finetune\\.slurm\\nResult: Job ID ${jobs.get(run.name)} submitted at `, "m"));
        expect(log).toMatch(new RegExp(`^${TS} STATE_CHANGE: ${run.name}\\nJob ID: ${jobs.get(run.name)}\\nPrevious: .+\\nCurrent: COMPLETED\\n(?:Started: .*\\n)?Completed: `, "m"));
      }
      expect(log).toMatch(new RegExp(`^${TS} STATUS_CHECK: Polling SLURM\\nCommand: squeue .*\\nResult: \\d+ jobs found - `, "m"));
      expect(log).toMatch(new RegExp(`^${TS} ALL_COMPLETE: Monitoring finished\\nSummary: 3 jobs completed - 3 COMPLETED`, "m"));

      const v = await step("validate");
      for (const run of RUNS) expect(v.stdout).toContain(`${run.name}: checkpoint ok`);
      expect(v.stdout).toContain("no errors in the Slurm logs");
    });

    it("run again from the start, it resumes safely: nothing submitted, the table unchanged", async () => {
      const summary = join(exp, "experiment_summary.md");
      const text = readFileSync(summary, "utf8");
      const mtime = statSync(summary).mtimeMs;
      const submits = ledgerEntries(join(exp, ".slurmpipe"), "submitted").length;
      const logSubmits = (readFileSync(join(exp, "run-torchtune.log"), "utf8").match(/SUBMIT_JOB/g) ?? []).length;

      const r = await step("submit");
      expect(r.stderr).toMatch(/0 submitted, 0 resubmitted, 0 reconciled, 3 already submitted/);
      await step("monitor");
      expect(ledgerEntries(join(exp, ".slurmpipe"), "submitted")).toHaveLength(submits);
      expect(readFileSync(summary, "utf8")).toBe(text);
      expect(statSync(summary).mtimeMs).toBe(mtime);
      expect((readFileSync(join(exp, "run-torchtune.log"), "utf8").match(/SUBMIT_JOB/g) ?? []).length).toBe(logSubmits);
    });
  });
}
