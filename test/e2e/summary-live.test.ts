import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runSlurm } from "@slurmpipe/core";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { requireCluster } from "../support/slurm.ts";
import { type ExperimentRun, createExperiment, fineTuningTable } from "./support/experiment.ts";
import { backends, cancelOwn, ensureBin, loadRecipe, readRecords, runStep, scratch } from "./support/recipe.ts";

// Issue #14 item 1 and the "table read while jobs run" of its done criteria: the watch step of
// docs/recipes/torchtune-experiment.md, run as written, with a job that runs ~10 s. While it runs,
// experiment_summary.md must say RUNNING with Slurm's start time (sacct's Start), not
// `UNKNOWN / not polled yet` and not the time slurm-poll noticed the start.
const recipe = loadRecipe("torchtune-experiment");
const RUN: ExperimentRun = { name: "rank8_lr1e-5", lr: "1e-5", extra: "max_steps=200 step_time=0.05" };

/** sacct's Start of a job, in UTC, as the table shows times ("2026-12-03 07:40:12"); what sacct printed when it is not a time. */
async function slurmStart(backend: "local" | "slurm", jobId: string, localDir: string): Promise<string> {
  // -P: no column widths (the local backend cuts Start to 10 characters without it).
  const args = ["-j", jobId, "-o", "Start", "-n", "-X", "-P"];
  const out =
    backend === "slurm"
      ? (await execa("sacct", args, { env: { TZ: "UTC" } })).stdout
      : (await runSlurm("sacct", args, { backend: "local", localStateDir: localDir, env: { ...process.env, TZ: "UTC" } })).stdout;
  const text = String(out).trim();
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(text) ? text.replace("T", " ") : `sacct printed ${JSON.stringify(text)}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const backend of backends()) {
  backend.describe(`summary-md table read while the job runs (${backend.name})`, () => {
    const s = scratch(`summary-live-${backend.name}`);
    let exp = "";
    let env: Record<string, string> = {};

    beforeAll(async () => {
      if (backend.name === "slurm") requireCluster();
      await ensureBin();
      const python = (await execa("python3", ["-c", "import sys; print(sys.executable)"])).stdout.trim();
      exp = createExperiment(s.dir, [RUN], python);
      env = { ...s.env, ...backend.env(), EXP: exp, STAGGER: "100ms", INTERVAL: "1s" };
    });
    afterAll(async () => {
      await cancelOwn(join(exp, ".slurmpipe"), backend.name, s.env.SLURMPIPE_LOCAL_DIR);
      s.cleanup();
    });

    it("experiment_summary.md shows RUNNING with Slurm's start time while the job runs, then COMPLETED", async () => {
      await runStep(recipe, "submit", s.dir, env);
      const jobId = (readRecords(join(exp, "submitted.ndjson")) as { job: { id: string } }[])[0]!.job.id;
      const summary = join(exp, "experiment_summary.md");
      const watch = runStep(recipe, "monitor", s.dir, env);
      let ended = false;
      watch.then(
        () => (ended = true),
        () => (ended = true),
      );
      // Read the table as a person would, while the watch runs, until it says RUNNING.
      let row: string[] | undefined;
      const seen: string[] = [];
      while (!ended) {
        row = fineTuningTable(readFileSync(summary, "utf8")).get(RUN.name);
        if (row && seen.at(-1) !== row.join(" | ")) seen.push(row.join(" | "));
        if (row?.[0] === "RUNNING") break;
        await sleep(100);
      }
      expect(ended, `the watch ended before the table said RUNNING; rows seen: ${seen.join(" / ")}`).toBe(false);
      const [status, shownJob, started, completed] = row!;
      expect(status).toBe("RUNNING");
      expect(shownJob).toBe(jobId);
      expect(completed).toBe("-");
      // The job is still running: Slurm's start time is what the table shows.
      const start = await slurmStart(backend.name, jobId, s.env.SLURMPIPE_LOCAL_DIR!);
      expect(start, "sacct knows the start of a running job").toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      expect(started, `rows seen: ${seen.join(" / ")}`).toBe(start);
      expect(seen.some((r) => /UNKNOWN/.test(r)), `rows seen: ${seen.join(" / ")}`).toBe(false);

      await watch;
      const [finalStatus, , finalStarted, finalCompleted] = fineTuningTable(readFileSync(summary, "utf8")).get(RUN.name)!;
      expect(finalStatus).toBe("COMPLETED");
      expect(finalStarted).toBe(start);
      expect(finalCompleted).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    });
  });
}
