import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UsageError } from "@slurmpipe/core";
import { parse } from "yaml";
import { run, tempDir, writeNdjson } from "./helpers.ts";

// Issue #14 item 12: `--update experiment_summary.yaml` appended a markdown table to the YAML.
const DOC = `# Experiment summary (scaffolded)
experiment:
  name: cap_4L_lora_lr_sweep   # the directory name
runs:
  - name: rank8_lr1e-5
    type: fine-tuned
    status: pending   # set by summary-md
    job_id: null
  - name: rank8_lr5e-5
    type: fine-tuned
  - name: Llama-3.2-1B-Instruct_base
    type: control
evaluation:
  tasks: [capitalization]
`;

const records = [
  {
    id: "r1",
    name: "rank8_lr1e-5",
    job: { id: "12345678" },
    state: { state: "COMPLETED", category: "success", terminal: true, exit_code: "0:0", started_at: "2025-10-24T00:07:15Z", ended_at: "2025-10-24T00:15:17Z" },
  },
  { id: "r2", name: "rank8_lr5e-5", job: { id: "12345679" }, state: { state: "RUNNING", category: "active", terminal: false, started_at: "2025-10-24T00:07:18Z" } },
  { id: "r3", name: "rank16_lr1e-5", error: { stage: "sweep-gen", code: "missing_script", message: "rank16_lr1e-5/finetune.slurm does not exist" } },
];

async function update(doc: string, name = "experiment_summary.yaml") {
  const dir = tempDir();
  const path = join(dir, name);
  writeFileSync(path, doc);
  const input = writeNdjson(join(dir, "in.ndjson"), records);
  const result = await run({ inputs: [input], update: path, now: "2025-10-24T01:00:00Z" }, { cwd: dir });
  return { ...result, path, after: readFileSync(path, "utf8") };
}

describe("--update experiment_summary.yaml", () => {
  it("sets the status fields of each run as YAML; comments, key order and other keys stay", async () => {
    const { code, after, stderr } = await update(DOC);
    expect(code, stderr).toBe(0);
    expect(after).not.toContain("|");
    const data = parse(after);
    expect(data.experiment).toEqual({ name: "cap_4L_lora_lr_sweep" });
    expect(data.evaluation).toEqual({ tasks: ["capitalization"] });
    expect(data.runs).toEqual([
      { name: "rank8_lr1e-5", type: "fine-tuned", status: "COMPLETED", job_id: "12345678", started: "2025-10-24 00:07:15", completed: "2025-10-24 00:15:17" },
      { name: "rank8_lr5e-5", type: "fine-tuned", status: "RUNNING", job_id: "12345679", started: "2025-10-24 00:07:18" },
      { name: "Llama-3.2-1B-Instruct_base", type: "control" },
      { name: "rank16_lr1e-5", status: "NOT_SUBMITTED", notes: "sweep-gen: rank16_lr1e-5/finetune.slurm does not exist" },
    ]);
    expect(after).toContain("# Experiment summary (scaffolded)\n");
    expect(after).toContain("name: cap_4L_lora_lr_sweep # the directory name");
    expect(after).toContain("status: COMPLETED # set by summary-md");
    expect(after.indexOf("evaluation:")).toBeGreaterThan(after.indexOf("rank16_lr1e-5"));
  });

  it("leaves the file as it is when nothing changed", async () => {
    const first = await update(DOC);
    const again = await update(first.after);
    expect(again.after).toBe(first.after);
  });

  it("refuses a YAML file it cannot update, naming it, and changes nothing", async () => {
    const cases: [string, RegExp][] = [
      ["experiment:\n  name: x\n", /experiment_summary\.yaml: no top-level runs: list/],
      ["runs: [unclosed\n", /experiment_summary\.yaml is not valid YAML/],
      ["- a\n- b\n", /experiment_summary\.yaml: expected a mapping/],
    ];
    for (const [doc, message] of cases) {
      const dir = tempDir();
      const path = join(dir, "experiment_summary.yaml");
      writeFileSync(path, doc);
      const input = writeNdjson(join(dir, "in.ndjson"), records);
      const failed = run({ inputs: [input], update: path }, { cwd: dir });
      await expect(failed).rejects.toThrow(UsageError); // exit 2
      await expect(failed).rejects.toThrow(message);
      expect(readFileSync(path, "utf8")).toBe(doc);
    }
  });

  it("refuses a data file it cannot edit as markdown (exit 2, the file named)", async () => {
    await expect(update('{"runs": []}\n', "summary.json")).rejects.toThrow(/--update: .*summary\.json is a \.json file/);
  });
});
