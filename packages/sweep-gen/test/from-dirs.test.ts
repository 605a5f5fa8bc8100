import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { RunRecord, sha256 } from "@slurmpipe/core";
import { describe, expect, it } from "vitest";
import { logPatterns, parseSummaryMarkdown, parseSummaryYaml, readDirectives } from "../src/index.ts";
import { fixtures, run } from "./helpers.ts";

const exp = join(fixtures, "cap_4L_lora_lr_sweep_2025-10-22");

describe("--from-dirs", () => {
  it("emits one record per job script, sorted, with absolute paths, sha256 and log patterns", async () => {
    const r = await run({ fromDirs: ["*/*/finetune.slurm"] }, {}, fixtures);
    expect(r.code).toBe(0);
    const ok = r.records;
    expect(ok.map((x) => x.name)).toEqual(["rank16_lr1e-5", "rank8_lr1e-5", "rank8_lr5e-5"]);
    for (const rec of ok) {
      expect(RunRecord.safeParse(rec).success).toBe(true);
      const script = rec.script as { path: string; sha256: string; job_name: string };
      expect(script.path).toBe(join(exp, String(rec.name), "finetune.slurm"));
      expect(script.sha256).toBe(sha256(readFileSync(script.path)));
      expect(script.job_name).toBe(rec.name);
      expect(rec.dir).toBe(join(exp, String(rec.name)));
      expect(rec.group).toBe("cap_4L_lora_lr_sweep_2025-10-22");
      expect(rec).not.toHaveProperty("control");
    }
    expect(r.records[1]!.logs).toEqual({ stdout: join(exp, "rank8_lr1e-5/slurm-%j.out"), stderr: join(exp, "rank8_lr1e-5/slurm-%j.out") });
    expect(r.records[2]!.logs).toEqual({ stdout: join(exp, "rank8_lr5e-5/logs/%x-%j.out"), stderr: join(exp, "rank8_lr5e-5/logs/%x-%j.err") });
  });

  it("skips the control run with a note naming the summary line", async () => {
    const r = await run({ fromDirs: [`${exp}/*/finetune.slurm`] });
    expect(r.stderr).toContain("skipping control run Llama-3.2-1B-Instruct_base");
    expect(r.stderr).toContain("experiment_summary.md:27");
    expect(r.records.some((x) => x.control)).toBe(false);
  });

  it("a run directory marked for fine-tuning without finetune.slurm is a warning and an error record, exit 1", async () => {
    // The fixture with rank16_lr5e-5 scaffolded (its directory exists) but without its job script.
    const root = mkdtempSync(join(tmpdir(), "sweep-gen-missing-"));
    const copy = join(root, basename(exp));
    cpSync(exp, copy, { recursive: true });
    mkdirSync(join(copy, "rank16_lr5e-5"));
    writeFileSync(join(copy, "rank16_lr5e-5", "setup_finetune.yaml"), "model: llama\n");
    const r = await run({ fromDirs: ["*/*/finetune.slurm"] }, {}, root);
    expect(r.code).toBe(1);
    const dir = join(copy, "rank16_lr5e-5");
    const message = `${dir}: marked for fine-tuning in experiment_summary.md but has no finetune.slurm`;
    expect(r.stderr).toContain(`warning: ${message} (${join(copy, "experiment_summary.md")}:26)`);
    expect(r.stderr).not.toContain("skipping run without a job script");
    // The other runs come out as before, the errored one after them.
    expect(r.records.map((x) => x.name)).toEqual(["rank16_lr1e-5", "rank8_lr1e-5", "rank8_lr5e-5", "rank16_lr5e-5"]);
    const bad = r.records[3]!;
    expect(RunRecord.safeParse(bad).success).toBe(true);
    expect(bad).toEqual({
      kind: "run",
      v: 1,
      id: bad.id,
      name: "rank16_lr5e-5",
      group: "cap_4L_lora_lr_sweep_2025-10-22",
      dir,
      error: { stage: "sweep-gen", code: "missing_script", message },
    });
    expect(String(bad.id)).toMatch(/^[0-9a-f]{16}$/);
    // Also with --controls include: it is not a control.
    const inc = await run({ fromDirs: ["*/*/finetune.slurm"], controls: "include" }, {}, root);
    expect(inc.code).toBe(1);
    expect(inc.records.find((x) => x.name === "rank16_lr5e-5")).toMatchObject({ error: { code: "missing_script" } });
    // --count counts it with the others, and exits 1 too.
    const count = await run({ fromDirs: ["*/*/finetune.slurm"], count: true }, {}, root);
    expect([count.stdout, count.code]).toEqual(["4\n", 1]);
  });

  it("a fine-tuning run listed without a directory (not scaffolded) is a warning, not a record", async () => {
    const r = await run({ fromDirs: ["*/*/finetune.slurm"] }, {}, fixtures);
    expect(r.stderr).toMatch(/warning: .*experiment_summary\.md:26: run rank16_lr5e-5 has no directory/);
  });

  it("a run of another type, or with no directory at all, is not an error", async () => {
    const md = (type: string) => `## All Runs\n| Run Name | Type |\n|---|---|\n| a | Fine-tuned |\n| b | ${type} |\n| c | Fine-tuned |\n`;
    const root = mkdtempSync(join(tmpdir(), "sweep-gen-fromdirs-"));
    mkdirSync(join(root, "e/a"), { recursive: true });
    mkdirSync(join(root, "e/b"), { recursive: true });
    writeFileSync(join(root, "e/a/finetune.slurm"), "#!/bin/bash\ntrue\n");
    writeFileSync(join(root, "e/experiment_summary.md"), md("Evaluation only"));
    const r = await run({ fromDirs: ["e/*/finetune.slurm"] }, {}, root);
    expect(r.code).toBe(0);
    expect(r.records.map((x) => x.name)).toEqual(["a"]);
    expect(r.stderr).toContain("skipping run without a job script b");
    // A fine-tuning run that was never scaffolded (no directory) is a visible warning.
    expect(r.stderr).toMatch(/warning: .*experiment_summary\.md:6: run c has no directory/);
    writeFileSync(join(root, "e/experiment_summary.md"), md("Fine-tuned"));
    const bad = await run({ fromDirs: ["e/*/finetune.slurm"] }, {}, root);
    expect(bad.code).toBe(1);
    expect(bad.records.map((x) => [x.name, (x.error as { code?: string } | undefined)?.code])).toEqual([
      ["a", undefined],
      ["b", "missing_script"],
    ]);
  });

  it("--controls include emits controls with control: true and no script", async () => {
    const r = await run({ fromDirs: ["*/*/finetune.slurm"], controls: "include" }, {}, fixtures);
    const controls = r.records.filter((x) => x.control === true);
    expect(controls.map((x) => x.name)).toEqual(["Llama-3.2-1B-Instruct_base"]);
    for (const c of controls) expect(c).not.toHaveProperty("script");
  });

  it("ids are stable across runs and from another working directory", async () => {
    const a = await run({ fromDirs: ["*/*/finetune.slurm"] }, {}, fixtures);
    const b = await run({ fromDirs: ["cap_*/*/finetune.slurm"] }, {}, fixtures);
    const c = await run({ fromDirs: [`${exp}/rank*/finetune.slurm`] });
    expect(b.stdout).toBe(a.stdout);
    expect(c.records.map((x) => x.id)).toEqual(a.records.map((x) => x.id));
  });

  it("a glob that matches nothing is an error", async () => {
    const r = await run({ fromDirs: ["nope/*/finetune.slurm"] }, {}, fixtures);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no job scripts match");
  });

  it("--count counts the runs it would emit", async () => {
    const r = await run({ fromDirs: ["*/*/finetune.slurm"], count: true }, {}, fixtures);
    expect(r.stdout).toBe("3\n");
  });
});

describe("experiment summaries", () => {
  it("reads the All Runs table, its types and lines", () => {
    const s = parseSummaryMarkdown(readFileSync(join(exp, "experiment_summary.md"), "utf8"), "x.md");
    expect(s.rows.map((r) => [r.name, r.control, r.line, r.type])).toEqual([
      ["rank8_lr1e-5", false, 23, "Fine-tuned"],
      ["rank8_lr5e-5", false, 24, "Fine-tuned"],
      ["rank16_lr1e-5", false, 25, "Fine-tuned"],
      ["rank16_lr5e-5", false, 26, "Fine-tuned"],
      ["Llama-3.2-1B-Instruct_base", true, 27, "Control"],
    ]);
  });
  it("reads a control column and backticked names", () => {
    const md = "## Runs\n| Run | Control | Directory |\n|---|---|---|\n| `a` | no | runs/a_dir/ |\n| **b** | yes | b |\n";
    expect(parseSummaryMarkdown(md, "x").rows).toEqual([
      { name: "a", control: false, line: 4, dir: "a_dir" },
      { name: "b", control: true, line: 5, dir: "b" },
    ]);
  });
  it("reads experiment_summary.yaml runs", () => {
    const y = "experiment:\n  name: e\nruns:\n  - name: r8\n    type: fine-tuned\n  - name: base\n    type: control\n";
    expect(parseSummaryYaml(y, "x").rows).toEqual([
      { name: "r8", control: false, line: 4, type: "fine-tuned" },
      { name: "base", control: true, line: 6, type: "control" },
    ]);
  });
});

describe("job script directives", () => {
  it("reads job name, output, error and chdir in every spelling, up to the first command", () => {
    const d = readDirectives('#!/bin/bash\n# comment\n#SBATCH -J "my job"\n#SBATCH -ologs/o.%j\n#SBATCH --error err.%j # trailing\n#SBATCH --chdir=/scratch/w\necho hi\n#SBATCH --output=ignored\n');
    expect(d).toEqual({ jobName: "my job", output: "logs/o.%j", error: "err.%j", chdir: "/scratch/w" });
    expect(logPatterns(d, "/runs/a")).toEqual({ stdout: "/scratch/w/logs/o.%j", stderr: "/scratch/w/err.%j" });
    expect(logPatterns({}, "/runs/a")).toEqual({ stdout: "/runs/a/slurm-%j.out", stderr: "/runs/a/slurm-%j.out" });
  });
});
