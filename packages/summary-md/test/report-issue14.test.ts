import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run, tempDir, writeNdjson } from "./helpers.ts";

// Issue #14 items 2, 4, 8 and 14, as the status report and --update show them.
const RENDERED = { profile: "lumi", args: ["--profile", "lumi", "--account", "project_465000001", "--mem", "512M", "--out", "runs/"] };
const done = (started: string, ended: string) => ({ started_at: started, ended_at: ended, terminal: true });

const records = [
  { id: "up", name: "train_a", job: { id: "1234" }, state: { state: "FAILED", category: "failure", exit_code: "1:0", ...done("2026-01-01T10:00:00Z", "2026-01-01T10:01:00Z") } },
  { id: "down", name: "eval_a", depends_on: ["up"], job: { id: "1235" }, state: { state: "PENDING", category: "blocked", terminal: false, reason: "DependencyNeverSatisfied", blocked_by: ["1234"] } },
  {
    id: "retry",
    name: "core_lr0.2",
    params: { lr: 0.1, seed: 0 },
    sweep_params: { lr: 0.2, seed: 0 },
    job: { id: "1300", attempt: 2 },
    state: { state: "COMPLETED", category: "success", exit_code: "0:0", ...done("2026-01-01T11:00:00Z", "2026-01-01T11:30:00Z") },
  },
  {
    id: "oom",
    name: "core_lr0.1",
    params: { lr: 0.1 },
    sweep_params: { lr: 0.1 },
    script: { path: "/x/runs/core_lr0.1/job.sbatch", rendered_with: RENDERED },
    job: { id: "1301", backend: "local" },
    state: { state: "FAILED", category: "failure", exit_code: "1:0", ...done("2026-01-01T10:00:00Z", "2026-01-01T10:02:00Z") },
    report: {
      failures: [{ class: "HOST_OOM", message: "MemoryError", suggested: { action: "increase_mem", retry: true, changes: { resources: { mem: "768M" } } } }],
    },
  },
  {
    id: "nan",
    name: "bn_lr0.1",
    params: { lr: 0.1 },
    script: { path: "/x/runs/bn_lr0.1/job.sbatch", rendered_with: RENDERED },
    job: { id: "1302", backend: "local" },
    state: { state: "FAILED", category: "failure", exit_code: "1:0", ...done("2026-01-01T10:00:00Z", "2026-01-01T10:02:00Z") },
    report: {
      failures: [{ class: "NAN_LOSS", message: "loss nan", suggested: { action: "lower_lr", retry: true, changes: { params: { lr: 0.05, grad_clip_norm: 0.5 } } } }],
    },
  },
  { id: "noscript", name: "rank16_lr1e-5", dir: "/x/rank16_lr1e-5", error: { stage: "sweep-gen", code: "missing_script", message: "no finetune.slurm in rank16_lr1e-5/" } },
];

async function report() {
  const dir = tempDir();
  const input = writeNdjson(join(dir, "in.ndjson"), records);
  const r = await run({ inputs: [input], now: "2026-01-01T12:00:00Z", plots: false }, { cwd: dir });
  expect(r.code, r.stderr).toBe(0);
  const row = (name: string) => r.stdout.split("\n").find((l) => l.startsWith(`| ${name} |`)) ?? "";
  return { ...r, dir, row };
}

describe("blocked runs (item 2)", () => {
  it("have their own status and category in every table and the headline, naming the upstream job", async () => {
    const { stdout, row } = await report();
    expect(row("eval_a")).toContain("| BLOCKED | 1235 |");
    expect(row("eval_a")).toContain("| blocked by 1234 (FAILED) |");
    expect(stdout).toMatch(/^\| BLOCKED \| 1 \| 17% \|$/m);
    expect(stdout).toContain("1 BLOCKED by 1234 (FAILED)");
    expect(stdout).toContain("0 pending or running");
    expect(stdout).toContain("- eval\\_a (job 1235): blocked by 1234 (train\\_a, FAILED)");
    expect(stdout).toContain("`scancel 1235`");
  });

  it("show as BLOCKED in an --update table", async () => {
    const { dir } = await report();
    const doc = join(dir, "experiment_summary.md");
    writeFileSync(doc, "| Run Name | Status | Job ID | Started | Completed | Notes |\n|---|---|---|---|---|---|\n| eval_a | PENDING | 1235 | - | - | - |\n");
    await run({ inputs: [join(dir, "in.ndjson")], update: doc }, { cwd: dir });
    expect(readFileSync(doc, "utf8")).toContain("| eval_a | BLOCKED | 1235 | - | - | blocked by 1234 (FAILED) |");
  });
});

describe("runs with parameters other than the sweep's (item 4)", () => {
  it("say so in the status table and in the completeness check", async () => {
    const { stdout, row } = await report();
    expect(row("core_lr0.2")).toContain("| attempt 2, ran with lr=0.1 (sweep: 0.2) |");
    expect(row("core_lr0.1")).not.toContain("ran with");
    expect(stdout).toContain("## Completeness\n\n- Ran with parameters other than the sweep's (1):\n  - core\\_lr0.2 (attempt 2, COMPLETED): lr=0.1 (sweep: 0.2)\n");
  });
});

describe("rerun commands reproduce the render (item 8)", () => {
  it("give slurm-render its recorded flags, then the suggested resources as flags that win, and the backend to slurm-submit", async () => {
    const { stdout } = await report();
    expect(stdout).toContain(
      `jq -c 'select(.id | IN("oom"))' runs.ndjson | slurm-render --profile lumi --account project_465000001 --mem 512M --out runs/ --mem 768M | slurm-submit --backend local --resubmit failed\n`,
    );
  });

  it("apply a params change with jq, in params and in the command's key=value argument", async () => {
    const { stdout } = await report();
    expect(stdout).toContain(
      `jq -c 'select(.id | IN("nan")) | .params.grad_clip_norm = 0.5 | .command |= (if type == "array" then map(if startswith("grad_clip_norm=") then "grad_clip_norm=0.5" else . end) else . end) | .params.lr = 0.05 | .command |= (if type == "array" then map(if startswith("lr=") then "lr=0.05" else . end) else . end)' runs.ndjson | slurm-render --profile lumi --account project_465000001 --mem 512M --out runs/ | slurm-submit --backend local --resubmit failed\n`,
    );
  });

  it("quote recorded flags for the shell", async () => {
    const dir = tempDir();
    const rec = { ...records[3], script: { path: "/x", rendered_with: { args: ["--profile", "my profile.yaml", "--venv", "/p/it's venv"] } } };
    const r = await run({ inputs: [writeNdjson(join(dir, "in.ndjson"), [rec])], plots: false }, { cwd: dir });
    expect(r.stdout).toContain(`slurm-render --profile 'my profile.yaml' --venv '/p/it'\\''s venv' --mem 768M | slurm-submit --backend local --resubmit failed`);
  });
});

describe("records with an error from an earlier stage (item 14)", () => {
  it("are a visible row, NOT_SUBMITTED with the error, listed with what to fix", async () => {
    const { stdout, row } = await report();
    expect(row("rank16\\_lr1e-5") || row("rank16_lr1e-5")).toContain("| NOT_SUBMITTED | - |");
    expect(row("rank16_lr1e-5")).toContain("sweep-gen: no finetune.slurm in rank16_lr1e-5/");
    expect(stdout).toContain("### rank16\\_lr1e-5: NOT_SUBMITTED");
    expect(stdout).toContain("- **sweep-gen error** (`missing_script`): no finetune.slurm in rank16\\_lr1e-5/");
    expect(stdout).toContain("### Not submitted because of an error: fix it, then submit (1)");
  });
});
