import { RunRecord } from "@slurmpipe/core";
import { describe, expect, it } from "vitest";
import { sweep } from "./helpers.ts";

const TWO = `command: [python, train.py]
args: hydra
dir: runs
grid:
  lr: [0.1, 0.2]
  seed: 0..1
variants:
  A: {}
  B: {params: {opt: adamw}}
stages:
  train: {}
  eval:
    command: "python eval.py --ckpt runs/{variant}_lr{lr}_seed{seed}_train"
    args: none
    depends_on: train
    resources: {time: "00:10:00"}
`;

describe("stages", () => {
  it("evaluate after train, per run: each eval run depends on the train run with the same params", async () => {
    const r = await sweep(TWO);
    expect(r.code, r.stderr).toBe(0);
    expect(r.records).toHaveLength(16);
    for (const rec of r.records) expect(RunRecord.safeParse(rec).success).toBe(true);
    const train = r.records.filter((x) => x.stage === "train");
    const evals = r.records.filter((x) => x.stage === "eval");
    expect(train).toHaveLength(8);
    expect(evals).toHaveLength(8);
    for (const e of evals) {
      const t = train.find((x) => JSON.stringify(x.params) === JSON.stringify(e.params) && x.variant === e.variant)!;
      expect(e.depends_on).toEqual([t.id]);
      expect(String(e.name)).toBe(String(t.name).replace(/_train$/, "_eval"));
      expect(e.resources).toEqual({ time: "00:10:00" });
      expect(e.command).toEqual(["python", "eval.py", "--ckpt", `runs/${t.name}`]);
    }
    expect(train.every((x) => x.depends_on === undefined)).toBe(true);
    // Train first, then its eval, point by point.
    expect(r.records.slice(0, 2).map((x) => x.name)).toEqual(["A_lr0.1_seed0_train", "A_lr0.1_seed0_eval"]);
    expect(new Set(r.records.map((x) => x.id)).size).toBe(16);
    expect((await sweep(TWO, { count: true })).stdout).toBe("16\n");
  });

  it("after a whole group, and after everything: one run waits for every run of its group / of a stage", async () => {
    const r = await sweep(
      `${TWO}  report:\n    for_each: group\n    command: "python report.py {group}"\n    depends_on: eval\n  final:\n    for_each: sweep\n    command: [echo, done]\n    depends_on: [report, train]\n`,
    );
    expect(r.code, r.stderr).toBe(0);
    const ids = (pred: (x: Record<string, unknown>) => boolean) => r.records.filter(pred).map((x) => x.id);
    const reportA = r.records.find((x) => x.name === "A_report")!;
    expect(reportA).toMatchObject({ stage: "report", group: "A", command: ["python", "report.py", "A"], dir: "runs/A_report" });
    expect(reportA.depends_on).toEqual(ids((x) => x.stage === "eval" && x.variant === "A"));
    const final = r.records.at(-1)!;
    expect(final).toMatchObject({ name: "final", stage: "final" });
    expect(final.depends_on).toEqual([...ids((x) => x.stage === "report"), ...ids((x) => x.stage === "train")]);
    expect((await sweep(`${TWO}  report:\n    for_each: group\n    command: [r]\n    depends_on: eval\n`, { count: true })).stdout).toBe("18\n");
  });

  it("unknown stages, cycles and dependencies on filtered-out runs are errors at the file, line and key", async () => {
    const head = "command: [t]\ngrid: {lr: [1, 2]}\nstages:\n";
    const unknown = await sweep(`${head}  train: {}\n  eval:\n    depends_on: trian\n`);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe("");
    expect(unknown.stderr).toContain('sweep.yaml:6: field "stages.eval.depends_on": unknown stage "trian" (stages: train, eval)');
    const cycle = await sweep(`${head}  train:\n    depends_on: eval\n  eval:\n    depends_on: [train]\n`);
    expect(cycle.stderr).toContain('sweep.yaml:5: field "stages.train.depends_on": stages depend on each other in a cycle: train -> eval -> train');
    const self = await sweep(`${head}  train:\n    depends_on: train\n`);
    expect(self.stderr).toContain("cycle: train -> train");
    const filtered = await sweep(`${head}  train:\n    filter: "lr=1"\n  eval:\n    command: [e]\n    depends_on: train\n`);
    expect(filtered.code).toBe(1);
    expect(filtered.stdout).toBe("");
    expect(filtered.stderr).toContain(
      'sweep.yaml:8: field "stages.eval.depends_on": run lr2_eval of stage eval depends on the train run with the same parameters (lr2_train), which the filters leave out',
    );
    // Filtering both alike is fine, also with a global filter on the stage.
    const alike = await sweep(`${head}  train: {}\n  eval:\n    command: [e]\n    depends_on: train\n`, { exclude: ["lr=2"] });
    expect(alike.records.map((x) => x.name)).toEqual(["lr1_train", "lr1_eval"]);
    const none = await sweep(`${head}  train: {}\n  rep:\n    for_each: sweep\n    command: [r]\n    depends_on: train\n`, { filter: ["stage=eval"] });
    expect(none.stderr).toContain('field "stages.rep.depends_on": the run of stage rep depends on every train run, but the filters leave none');
    const badKey = await sweep(`${head}  train:\n    needs: x\n`);
    expect(badKey.stderr).toContain('sweep.yaml:5: field "stages.train.needs": unknown key "needs"');
    const same = await sweep(`${head}  train: {}\n  eval:\n    name: "lr{lr}_train"\n    depends_on: train\n`);
    expect(same.stderr).toContain('sweep.yaml:6: field "stages.eval.name": stages train and eval both name a run "lr1_train": put {stage} in the name');
    const scope = await sweep(`${head}  train:\n    for_each: each\n`);
    expect(scope.stderr).toContain('unknown for_each "each"');
  });
});
