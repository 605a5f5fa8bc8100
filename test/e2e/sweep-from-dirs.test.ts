import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.ts";
import { RUNS, addRun, summaryMarkdown } from "./support/experiment.ts";
import { cancelOwn, ledgerEntries, records, scratch } from "./support/recipe.ts";

// Issue #14 item 14 (sweep-gen's part): a run directory the experiment summary marks for
// fine-tuning but that has no finetune.slurm comes out of `sweep-gen --from-dirs` as a record with
// an error (and a warning, exit 1); slurm-submit passes it through untouched, submitting only the
// others (local backend: the runs are the demo trainer's).
describe("sweep-gen --from-dirs: a fine-tuning run without its job script, through slurm-submit", () => {
  const s = scratch("sweep-from-dirs");
  const exp = join(s.dir, "cap_e2e");
  const state = join(exp, ".slurmpipe");
  const missing = { name: "rank16_lr5e-5", lr: "5e-5" };

  beforeAll(async () => {
    const python = (await execa("python3", ["-c", "import sys; print(sys.executable)"])).stdout.trim();
    mkdirSync(exp, { recursive: true });
    writeFileSync(join(exp, "experiment_summary.md"), summaryMarkdown([...RUNS, missing]));
    for (const run of RUNS) addRun(exp, run, python);
    mkdirSync(join(exp, missing.name)); // scaffolded, but its finetune.slurm is missing
  });
  afterAll(async () => {
    await cancelOwn(state, "local", s.env.SLURMPIPE_LOCAL_DIR);
    s.cleanup();
  });

  it("is a warning and an error record; slurm-submit submits the others and passes it through", async () => {
    const gen = await runCli("sweep-gen", ["--from-dirs", "*/finetune.slurm"], { cwd: exp });
    expect(gen.exitCode).toBe(1);
    const message = `${join(exp, missing.name)}: marked for fine-tuning in experiment_summary.md but has no finetune.slurm`;
    expect(gen.stderr).toContain(`warning: ${message}`);
    const runs = records(String(gen.stdout));
    expect(runs.map((r) => r.name)).toEqual([...RUNS.map((r) => r.name).sort(), missing.name]);
    expect(runs.at(-1)).toMatchObject({ kind: "run", name: missing.name, group: "cap_e2e", error: { stage: "sweep-gen", code: "missing_script", message } });

    const submit = await runCli("slurm-submit", ["--backend", "local", "--state", state], { cwd: exp, input: String(gen.stdout), env: s.env });
    expect(submit.exitCode, String(submit.stderr)).toBe(0);
    const out = records(String(submit.stdout));
    expect(out).toHaveLength(4);
    const errored = out.find((r) => r.name === missing.name)!;
    expect(errored).toEqual(runs.at(-1)); // untouched: no job, the error kept
    for (const r of out.filter((x) => x.name !== missing.name)) expect((r.job as { id?: string }).id).toMatch(/^\d+$/);
    expect(ledgerEntries(state, "submitted").map((e) => e.run_id)).not.toContain(errored.id);
    expect(ledgerEntries(state, "intent")).toHaveLength(3);
  }, 120_000);
});
