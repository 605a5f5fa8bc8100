import { readFileSync } from "node:fs";
import { join } from "node:path";
import { StringPool } from "@slurmpipe/core";
import { describe, expect, it } from "vitest";
import { type FieldOptions, pickReportFields } from "../src/fields.ts";
import { buildPlots, buildReruns, buildViews, collectInputs, groupViews, statusReport, updateDocument } from "../src/index.ts";
import { readExpected } from "../src/records.ts";
import { expectedRuns, sweepEvents, sweepRecords } from "./fixtures.ts";
import { tempDir, writeNdjson } from "./helpers.ts";

const errors = { report: (e: unknown) => expect.unreachable(JSON.stringify(e)) };
const ALL: FieldOptions = { plots: true };

/** The fixture sweep plus later partial records: a state update, a resubmission, stage fields the report never reads. */
function inputs() {
  const dir = tempDir();
  const later = [
    { id: "id-adamw_lr0.003_s0", name: "adamw_lr0.003_s0", state: { state: "PENDING", category: "pending", terminal: false, reason: "Resources", confirmed_at: "x" } },
    { id: "id-adamw_lr0.001_s1", name: "adamw_lr0.001_s1", job: { id: "2009", attempt: 2, argv: ["sbatch", "x"] }, state: { state: "RUNNING", category: "active", terminal: false } },
    { id: "id-core_lr0.1_s0", name: "core_lr0.1_s0", dir: "/scratch/r", script: { path: "/s/job.sbatch" }, report: { steps_seen: 2000, benign_warnings: 3 } },
    // A retry that ran with another lr than the sweep's, rendered with recorded flags.
    {
      id: "id-core_lr0.2_s1",
      name: "core_lr0.2_s1",
      params: { lr: 0.1 },
      sweep_params: { lr: 0.2, seed: 1, max_steps: 2000 },
      script: { path: "/s/r2.sbatch", rendered_with: { profile: "lumi", args: ["--profile", "lumi"] } },
    },
  ];
  return {
    dir,
    records: writeNdjson(join(dir, "records.ndjson"), [...sweepRecords(), ...sweepEvents(), ...later]),
    expected: writeNdjson(join(dir, "expected.ndjson"), expectedRuns()),
  };
}

async function reports(fields: FieldOptions | undefined) {
  const { dir, records, expected } = inputs();
  const read = { errors, ...(fields ? { fields } : {}) };
  const collected = await collectInputs([records], read);
  const views = buildViews(collected, await readExpected(expected, read), Date.parse("2025-10-24T03:00:00Z"));
  const groups = groupViews(views);
  const plots = buildPlots(groups, { dir: join(dir, "plots"), linkBase: dir, colorBy: "lr" });
  const markdown = statusReport({ title: "t", generatedAt: "2025-10-24T03:00:00Z", groups, plots, reruns: buildReruns(views, { profile: "lumi" }) });
  const doc = readFileSync(join(import.meta.dirname, "fixtures", "experiment_summary.md"), "utf8");
  return { collected, markdown, svgs: [...plots.files.values()], update: updateDocument(doc, views).text };
}

describe("report fields", () => {
  it("merging picked records gives the picked merge of whole records", async () => {
    const { records } = inputs();
    const whole = await collectInputs([records], { errors });
    const picked = await collectInputs([records], { errors, fields: ALL });
    const strings = new StringPool();
    expect(picked.runs.size).toBe(whole.runs.size);
    for (const [id, record] of whole.runs) expect(picked.runs.get(id)).toEqual(pickReportFields(record, ALL, strings));
  });

  it("drops what the status report never reads", async () => {
    const { records } = inputs();
    const picked = await collectInputs([records], { errors, fields: { plots: false } });
    const run = picked.runs.get("id-core_lr0.1_s0")!;
    expect(Object.keys(run).sort()).toEqual(["group", "id", "job", "name", "params", "report", "state"]);
    expect(run.job).toEqual({ id: "1001", cluster: "local", attempt: 1 });
    expect(Object.keys(run.report!).sort()).toEqual(["failures", "loss"]);
    expect(picked.runs.get("id-adamw_lr0.003_s0")!.state).toEqual({ state: "PENDING", category: "pending", terminal: false, reason: "Resources", time_limit_s: 7200, confirmed_at: "x" });
    // Of a job's events only the newest is kept, with what gives the state and Slurm's times.
    expect(picked.events.get("1011")).toEqual({
      at: "2025-10-24T00:35:00.000Z",
      to: "COMPLETED",
      run_id: "id-adamw_lr0.01_s0",
      category: "success",
      started_at: "2025-10-24T00:09:58.000Z",
      ended_at: "2025-10-24T00:34:58.000Z",
    });
    const withPlots = await collectInputs([records], { errors, fields: { plots: true } });
    const plotted = withPlots.runs.get("id-core_lr0.1_s0")!;
    expect(Object.keys(plotted.report!.series!)).toEqual(["loss"]);
    expect(plotted.params).toEqual({ lr: 0.1, seed: 0, max_steps: 2000 });
  });

  it("the report, plots and --update are the same from picked and from whole records", async () => {
    const whole = await reports(undefined);
    const picked = await reports(ALL);
    expect(picked.markdown).toBe(whole.markdown);
    expect(picked.svgs).toEqual(whole.svgs);
    expect(picked.update).toBe(whole.update);
    // The later records did reach the report.
    expect(whole.markdown).toContain("| adamw_lr0.001_s1 | RUNNING | 2009 | - | - | - | - | attempt 2 |");
    // Only lr: the partial params of the later record merge with the earlier ones before they are compared.
    expect(whole.markdown).toContain("| ran with lr=0.1 (sweep: 0.2); NAN_LOSS: ");
    expect(whole.markdown).toContain("slurm-render --profile lumi | slurm-submit --resubmit COMPLETED");
  });
});
