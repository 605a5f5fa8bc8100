import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../support/cli.ts";

/**
 * A scaffolded torchtune experiment directory (the layout of seeds 002/003) whose runs are the
 * demo trainer: `experiment_summary.md` with its "All Runs" and "Fine-tuning" tables, one
 * `<run>/finetune.slurm` per fine-tuning run (log `slurm-%j.out` in the run directory, checkpoint
 * in `ck-outputs/ck-out-<run>/epoch_0/`), and a control run with no directory.
 */
export const EXPERIMENT = "cap_e2e_lora_lr_sweep";

export interface ExperimentRun {
  name: string;
  lr: string;
  /** Extra train.py overrides, e.g. "fail=exception". */
  extra?: string;
}

export const RUNS: ExperimentRun[] = [
  { name: "rank8_lr1e-5", lr: "1e-5" },
  { name: "rank8_lr5e-5", lr: "5e-5" },
  { name: "rank16_lr1e-5", lr: "1e-5" },
];

export function summaryMarkdown(runs: ExperimentRun[]): string {
  const rank = (name: string) => /^rank(\d+)/.exec(name)?.[1] ?? "-";
  return [
    `# ${EXPERIMENT}`,
    "",
    "## Overview",
    `- **Runs:** ${runs.length} fine-tuned + 1 control = ${runs.length + 1} total`,
    "- **Question:** How do LoRA rank and learning rate affect capitalization accuracy?",
    "",
    "## All Runs",
    "| Run Name | Model | LoRA Rank | Learning Rate | Type | Est. Time |",
    "|----------|-------|-----------|---------------|------|-----------|",
    ...runs.map((r) => `| ${r.name} | Llama-3.2-1B-Instruct | ${rank(r.name)} | ${r.lr} | Fine-tuned | ~8min |`),
    "| Llama-3.2-1B-Instruct_base | Llama-3.2-1B-Instruct | - | - | Control | N/A |",
    "",
    "## Fine-tuning",
    "| Run Name | Status | Job ID | Started | Completed | Notes |",
    "|----------|--------|--------|---------|-----------|-------|",
    ...runs.map((r) => `| ${r.name} | - | - | - | - | - |`),
    "",
    "## Quick Reference",
    "**Next Steps:**",
    "1. Submit jobs: Run `run-experiment`",
    "",
  ].join("\n");
}

export function finetuneScript(expDir: string, run: ExperimentRun, python: string): string {
  const out = join(expDir, "ck-outputs", `ck-out-${run.name}`, "epoch_0");
  return [
    "#!/bin/bash",
    `#SBATCH --job-name=${run.name}`,
    "#SBATCH --nodes=1",
    "#SBATCH --ntasks=1",
    "#SBATCH --cpus-per-task=1",
    "#SBATCH --mem=512M",
    "#SBATCH --time=00:05:00",
    "#SBATCH --output=slurm-%j.out",
    "",
    `mkdir -p ${out}`,
    `${python} ${join(repoRoot, "examples/train.py")} lr=${run.lr} max_steps=60 step_time=0.03 log_every=5 out_dir=${out} ${run.extra ?? ""}`,
    "",
  ].join("\n");
}

export function addRun(expDir: string, run: ExperimentRun, python: string): void {
  mkdirSync(join(expDir, run.name), { recursive: true });
  writeFileSync(join(expDir, run.name, "finetune.slurm"), finetuneScript(expDir, run, python));
}

/** Creates the experiment under `parent`; returns its path. */
export function createExperiment(parent: string, runs: ExperimentRun[], python: string): string {
  const expDir = join(parent, EXPERIMENT);
  mkdirSync(expDir, { recursive: true });
  writeFileSync(join(expDir, "experiment_summary.md"), summaryMarkdown(runs));
  for (const run of runs) addRun(expDir, run, python);
  return expDir;
}

/** The Fine-tuning table's rows: run name -> cells (Status, Job ID, Started, Completed, Notes). */
export function fineTuningTable(markdown: string): Map<string, string[]> {
  const section = markdown.split("## Fine-tuning")[1]?.split("\n## ")[0] ?? "";
  const rows = new Map<string, string[]>();
  for (const line of section.split("\n")) {
    if (!line.startsWith("|") || /^\|\s*-/.test(line) || /Run Name/.test(line)) continue;
    const cells = line.split("|").slice(1, -1).map((c) => c.trim());
    rows.set(cells[0]!, cells.slice(1));
  }
  return rows;
}
