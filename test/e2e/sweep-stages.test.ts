import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runCli } from "../support/cli.ts";
import { describeSlurm, requireCluster, waitForJobs } from "../support/slurm.ts";
import { cancelOwn, records, scratch } from "./support/recipe.ts";

// Issue #14 item 15: stage chains written in the sweep file. A two-stage sweep (train, then eval
// of each train run) is generated, rendered with the local profile and submitted on the real local
// Slurm: every eval job is submitted with --dependency=afterok:<its train job>, waits for it, and
// starts only after it ended (the eval reads what its train run wrote).
const SWEEP = `command: [sh, -c, "sleep 12; echo lr={lr} > model.txt"]
dir: runs
grid:
  lr: [1, 2]
stages:
  train:
    resources: {time: "00:02:00", mem: 100M}
  eval:
    command: [sh, -c, "cat ../lr{lr}_train/model.txt > eval.txt"]
    depends_on: train
    resources: {time: "00:01:00", mem: 100M}
`;

describeSlurm("sweep stages on the real Slurm", () => {
  const s = scratch("sweep-stages");
  const state = join(s.dir, ".slurmpipe");
  let runs: Record<string, unknown>[] = [];
  let submitted: Record<string, unknown>[] = [];

  beforeAll(async () => {
    requireCluster();
    writeFileSync(join(s.dir, "sweep.yaml"), SWEEP);
    const gen = await runCli("sweep-gen", ["sweep.yaml"], { cwd: s.dir });
    expect(gen.exitCode, String(gen.stderr)).toBe(0);
    runs = records(String(gen.stdout));
    const render = await runCli("slurm-render", ["--profile", "local", "--out", "scripts"], { cwd: s.dir, input: String(gen.stdout) });
    expect(render.exitCode, String(render.stderr)).toBe(0);
    const submit = await runCli("slurm-submit", ["--backend", "slurm", "--state", state], { cwd: s.dir, input: String(render.stdout), env: s.env });
    expect(submit.exitCode, String(submit.stderr)).toBe(0);
    submitted = records(String(submit.stdout));
  }, 120_000);
  afterAll(async () => {
    await cancelOwn(state, "slurm");
    s.cleanup();
  });

  const job = (name: string) => String((submitted.find((r) => r.name === name)!.job as { id: string }).id);

  it("each eval run depends on the train run with the same params, in the records", () => {
    expect(runs.map((r) => [r.name, r.stage])).toEqual([
      ["lr1_train", "train"],
      ["lr1_eval", "eval"],
      ["lr2_train", "train"],
      ["lr2_eval", "eval"],
    ]);
    for (const lr of [1, 2]) {
      const train = runs.find((r) => r.name === `lr${lr}_train`)!;
      expect(runs.find((r) => r.name === `lr${lr}_eval`)!.depends_on).toEqual([train.id]);
    }
    expect(submitted).toHaveLength(4);
    for (const r of submitted) expect(r.error, JSON.stringify(r.error)).toBeUndefined();
  });

  it("the eval jobs are submitted with afterok on their train job and wait for it", async () => {
    for (const lr of [1, 2]) {
      const evalJob = job(`lr${lr}_eval`);
      const argv = (submitted.find((r) => r.name === `lr${lr}_eval`)!.job as { argv: string[] }).argv;
      expect(argv).toContain(`--dependency=afterok:${job(`lr${lr}_train`)}`);
      // While its train job runs (it sleeps 12 s), Slurm holds the eval job on the dependency.
      const sq = await execa("squeue", ["-h", "-j", evalJob, "-o", "%E|%T|%r"]);
      expect(sq.stdout.trim()).toBe(`afterok:${job(`lr${lr}_train`)}(unfulfilled)|PENDING|Dependency`);
      const sc = await execa("scontrol", ["show", "job", evalJob]);
      expect(sc.stdout).toContain(`Dependency=afterok:${job(`lr${lr}_train`)}(unfulfilled)`);
    }
  }, 60_000);

  it("every job completes, each eval after its train job ended, reading what it wrote", async () => {
    const ids = submitted.map((r) => String((r.job as { id: string }).id));
    const states = await waitForJobs(ids, 150_000);
    for (const id of ids) expect(states.get(id), id).toBe("COMPLETED");
    const times = await execa("sacct", ["-n", "-X", "-P", "-o", "JobID,Start,End", "-j", ids.join(",")]);
    const at = new Map(
      times.stdout
        .trim()
        .split("\n")
        .map((l) => l.split("|"))
        .map(([id, start, end]) => [id!, { start: Date.parse(start!), end: Date.parse(end!) }]),
    );
    for (const lr of [1, 2]) {
      const train = at.get(job(`lr${lr}_train`))!;
      const evaluation = at.get(job(`lr${lr}_eval`))!;
      expect(evaluation.start).toBeGreaterThanOrEqual(train.end);
      expect(readFileSync(join(s.dir, "runs", `lr${lr}_eval`, "eval.txt"), "utf8")).toBe(`lr=${lr}\n`);
    }
  }, 180_000);
});
