import { existsSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { contentId, parseJobTag, taggedJobName } from "@slurmpipe/core";
import { execa, execaSync } from "execa";
import { describe, expect, it } from "vitest";
import { renderRecords, run, tempDir } from "./helpers.ts";

const golden = (name: string) => join(import.meta.dirname, "golden", name);

/** Compares with test/golden/<name> (the out dir replaced by <OUT>); UPDATE_GOLDEN=1 rewrites it. */
function expectGolden(text: string, out: string, name: string): void {
  const normalized = text.split(out).join("<OUT>");
  if (process.env.UPDATE_GOLDEN === "1") writeFileSync(golden(name), normalized);
  expect(normalized).toBe(readFileSync(golden(name), "utf8"));
}

const TRAIN = ["python", "train.py", "optimizer=sgd", "lr=0.1", "wd=1e-4", "seed=0"];

export function contiguous(lines: string[], block: string[]): boolean {
  for (let i = 0; i + block.length <= lines.length; i++) if (block.every((b, j) => lines[i + j] === b)) return true;
  return false;
}

describe("profiles render the seed templates", () => {
  it("generic: golden script", async () => {
    const cwd = tempDir();
    const r = await renderRecords([run("S-core_lr0.1_wd1e-4_s0", TRAIN, { resources: { time: "02:00:00", mem: "32G" } })], { cwd, profile: "generic" });
    expect(r.code).toBe(0);
    const path = (r.records[0]!.script as { path: string }).path;
    expectGolden(readFileSync(path, "utf8"), cwd, "generic.sbatch");
  });

  it("lumi and olivia refuse to render without an account, olivia without a container", async () => {
    const cwd = tempDir();
    const lumi = await renderRecords([run("x", TRAIN)], { cwd, profile: "lumi" });
    expect(lumi.code).toBe(1);
    expect((lumi.records[0]!.error as { message: string }).message).toMatch(/needs account: set --account or resources.account/);
    const olivia = await renderRecords([run("x", TRAIN)], { cwd, profile: "olivia", overrides: { resources: { account: "nn1k" } } });
    expect((olivia.records[0]!.error as { message: string }).message).toMatch(/launcher.container: set --container/);
  });

  it("every shipped profile passes bash -n", async () => {
    for (const profile of ["generic", "local", "lumi", "olivia"]) {
      const cwd = tempDir();
      const r = await renderRecords([run("x", TRAIN)], { cwd, profile, check: true, overrides: { resources: { account: "a" }, container: "/c.sif", requeueOnSignal: true } });
      expect(r.code, `${profile}: ${r.stderr}`).toBe(0);
    }
  });
});

describe("merge order: profile < run spec resources < CLI flags", () => {
  it("each layer overrides the one before, key by key", async () => {
    const cwd = tempDir();
    const r = await renderRecords([run("m", TRAIN, { resources: { time: "03:00:00", mem: "10G", qos: "normal", extra: ["--exclusive", "--comment=spec"] } })], {
      cwd,
      profile: "lumi",
      overrides: { resources: { account: "cli_acct", mem: "20G" }, extra: ["--comment=cli"], container: "/appl/local/c.sif" },
    });
    const res = r.records[0]!.resources as Record<string, unknown>;
    expect(res).toMatchObject({ partition: "small-g", cpus_per_task: 7, time: "03:00:00", qos: "normal", mem: "20G", account: "cli_acct" });
    expect(res.extra).toEqual(["--exclusive", "--comment=cli"]);
    const text = readFileSync((r.records[0]!.script as { path: string }).path, "utf8");
    expect(text).toContain("#SBATCH --mem=20G\n");
    expect(text).toContain("#SBATCH --time=03:00:00\n");
    expect(text).toContain("#SBATCH --comment=cli\n");
    expect(text).not.toContain("--comment=spec");
  });

  it("run-spec and CLI env values are literal; profile env values are shell text", async () => {
    const cwd = tempDir();
    const r = await renderRecords([run("e", TRAIN, { resources: { env: { A: "$(id)", B: "spec" } } })], { cwd, profile: "generic", overrides: { env: { B: "it's cli" } } });
    const text = readFileSync((r.records[0]!.script as { path: string }).path, "utf8");
    expect(text).toContain("export A='$(id)'\n");
    expect(text).toContain("export B='it'\\''s cli'\n");
    expect(r.records[0]!.resources).toMatchObject({ env: { A: "$(id)", B: "it's cli" } });
  });

  it("a user profile extends a built-in one", async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, "mine.yaml"), "extends: lumi\nmodules: [LUMI/24.03 partition/G, PyTorch/2.2.2-custom]\nvenv: /scratch/me/venv\nresources:\n  account: project_42\n  gpus-per-node: 8\n");
    const r = await renderRecords([run("u", TRAIN)], { cwd, profile: "mine.yaml", overrides: { container: "/appl/local/c.sif" } });
    expect(r.code).toBe(0);
    const text = readFileSync((r.records[0]!.script as { path: string }).path, "utf8");
    expect(text).toContain("module load PyTorch/2.2.2-custom\n");
    expect(text).toContain("#SBATCH --gpus-per-node=8\n#SBATCH --cpus-per-task=7\n");
    expect(text).toContain("#SBATCH --account=project_42\n");
    expect(text).toContain("source /scratch/me/venv/bin/activate\n");
  });
});

describe("bad profiles and bad runs", () => {
  it("an unknown key in a user profile names the file, line and key", async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, "bad.yaml"), "resources:\n  partition: gpu\n  gpus_per_nod: 4\n");
    await expect(renderRecords([run("x", TRAIN)], { cwd, profile: "bad.yaml" })).rejects.toThrow(/bad\.yaml:3: key "resources\.gpus_per_nod"/);
  });

  it("a wrong type names the key; invalid YAML names the line; a missing file lists the built-ins", async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, "t.yaml"), "modules: LUMI\n");
    await expect(renderRecords([], { cwd, profile: "t.yaml" })).rejects.toThrow(/t\.yaml:1: key "modules"/);
    writeFileSync(join(cwd, "y.yaml"), "a: [1\nb: 2\n");
    await expect(renderRecords([], { cwd, profile: "y.yaml" })).rejects.toThrow(/y\.yaml:\d+: invalid YAML/);
    await expect(renderRecords([], { cwd, profile: "nosuch" })).rejects.toThrow(/built-in profiles: generic, local, lumi, olivia/);
  });

  it("a directive value with a newline or $ fails that run only, naming run and field", async () => {
    const cwd = tempDir();
    const r = await renderRecords([run("ok", TRAIN), run("nl", TRAIN, { resources: { qos: "a\nb" } }), run("dollar", TRAIN, { resources: { account: "$PROJECT" } })], { cwd });
    expect(r.code).toBe(1);
    expect(r.records[0]!.script).toBeDefined();
    expect(r.records[1]!.error).toMatchObject({ stage: "slurm-render", code: "invalid_directive" });
    expect((r.records[1]!.error as { message: string }).message).toMatch(/field "resources.qos".*line break/);
    expect((r.records[2]!.error as { message: string }).message).toMatch(/not expanded/);
    expect(r.stderr).toMatch(/stdin:2: run nl: field "resources.qos"/);
  });

  it("bad lines are reported with their line number and the stream goes on", async () => {
    const cwd = tempDir();
    const r = await renderRecords([run("a", TRAIN), "{not json", { id: "x" }, run("b", TRAIN)], { cwd });
    expect(r.code).toBe(1);
    expect(r.records.map((x) => x.name)).toEqual(["a", "b"]);
    expect(r.stderr).toMatch(/stdin:2: not JSON/);
    expect(r.stderr).toMatch(/stdin:3: field "name"/);
  });

  it("unsafe names, missing commands, unknown resources and duplicate names fail the record", async () => {
    const cwd = tempDir();
    const r = await renderRecords(
      [run("../x", TRAIN), run("nocmd", []), run("res", TRAIN, { resources: { gpu: 1 } }), run("dup", TRAIN), { ...run("dup", ["other"]), id: "ffffffffffff" }],
      { cwd },
    );
    const errors = r.records.map((x) => (x.error as { message?: string } | undefined)?.message ?? "");
    expect(errors[0]).toMatch(/not safe/);
    expect(errors[1]).toMatch(/no command/);
    expect(errors[2]).toMatch(/unknown resource "gpu"/);
    expect(errors[3]).toBe("");
    expect(errors[4]).toMatch(/duplicate run name/);
  });

  it("--check flags unknown directives; bad time and memory fail the record with or without --check", async () => {
    const cwd = tempDir();
    const r = await renderRecords([run("c", TRAIN, { resources: { extra: ["--gpus-per-nod=2"] } })], { cwd, check: true });
    expect(r.code).toBe(1);
    expect((r.records[0]!.error as { message: string }).message).toMatch(/unknown sbatch option/);
    expect(existsSync(join(cwd, "runs/c/job.sbatch"))).toBe(false);
    for (const check of [true, false]) {
      const bad = await renderRecords([run("t", TRAIN, { resources: { time: "2 hours", mem: "lots" } })], { cwd, check });
      expect(bad.code).toBe(1);
      expect(bad.records[0]!.error).toMatchObject({ code: "invalid_directive" });
      const msg = (bad.records[0]!.error as { message: string }).message;
      expect(msg).toMatch(/^field "resources.mem": invalid memory "lots": use a whole number/);
      expect(msg).toMatch(/resources.time: invalid time "2 hours": use \[D-\]HH:MM:SS/);
      expect(existsSync(join(cwd, "runs/t/job.sbatch"))).toBe(false);
    }
  });

  it("--check runs bash -n: a setup line with a syntax error fails the record", async () => {
    const cwd = tempDir();
    const r = await renderRecords([run("s", TRAIN)], { cwd, check: true, overrides: { setup: ["if then fi"] } });
    expect(r.code).toBe(1);
    expect((r.records[0]!.error as { message: string }).message).toMatch(/bash -n/);
  });
});

describe("output records and files", () => {
  it("keeps unknown fields, adds script, logs (absolute, %j) and dir; creates the logs directory", async () => {
    const cwd = tempDir();
    const r = await renderRecords([run("k", TRAIN, { custom: { a: 1 }, dir: "work/k" })], { cwd });
    const rec = r.records[0]!;
    expect(rec.custom).toEqual({ a: 1 });
    expect(rec.dir).toBe(join(cwd, "work/k"));
    expect(rec.logs).toEqual({ stdout: join(cwd, "runs/k/logs/%j.out"), stderr: join(cwd, "runs/k/logs/%j.err") });
    const script = rec.script as { path: string; sha256: string };
    expect(script.path).toBe(join(cwd, "runs/k/job.sbatch"));
    expect(statSync(join(cwd, "runs/k/logs")).isDirectory()).toBe(true);
    expect(readFileSync(script.path, "utf8")).toContain(`cd ${join(cwd, "work/k")}\n`);
  });

  it("is deterministic and leaves an unchanged script untouched (mtime kept); a change rewrites it", async () => {
    const cwd = tempDir();
    const first = await renderRecords([run("d", TRAIN)], { cwd });
    const path = (first.records[0]!.script as { path: string }).path;
    utimesSync(path, new Date(1_000_000_000_000), new Date(1_000_000_000_000));
    const second = await renderRecords([run("d", TRAIN)], { cwd });
    expect(second.records).toEqual(first.records);
    expect(statSync(path).mtimeMs).toBe(1_000_000_000_000);
    // re-rendering the output record itself gives the same script
    const third = await renderRecords(first.records, { cwd });
    expect((third.records[0]!.script as { sha256: string }).sha256).toBe((first.records[0]!.script as { sha256: string }).sha256);
    expect(statSync(path).mtimeMs).toBe(1_000_000_000_000);
    // A change never rewrites the file (a submitted job may run it): it gets a file of its own.
    const changed = await renderRecords([run("d", [...TRAIN, "extra=1"])], { cwd });
    expect(statSync(path).mtimeMs).toBe(1_000_000_000_000);
    expect((changed.records[0]!.script as { path: string }).path).not.toBe(path);
  });

  it("a percent sign in the out dir is escaped for sbatch's filename patterns", async () => {
    const cwd = tempDir();
    const r = await renderRecords([run("p", TRAIN)], { cwd, out: "100%runs" });
    expect((r.records[0]!.logs as { stdout: string }).stdout).toBe(join(cwd, "100%%runs/p/logs/%j.out"));
  });

  it("passes through records of other kinds, upstream errors and ready-made scripts", async () => {
    const cwd = tempDir();
    const input = [{ kind: "event", job_id: "1" }, { ...run("e", TRAIN), error: { stage: "sweep-gen", message: "x" } }, { id: "abcabcabcabc", name: "ready", script: { path: "/x/finetune.slurm" } }];
    const r = await renderRecords(input, { cwd });
    expect(r.code).toBe(0);
    expect(r.records).toEqual(input);
  });
});

describe("--sample", () => {
  it("renders sample-<name>: 15 minutes, one node, overrides appended, its own directory", async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, "p.yaml"), "extends: generic\nsample:\n  overrides: [trainer.max_steps=100, checkpoint.enabled=false, val.enabled=false]\n");
    const r = await renderRecords([run("S-core", TRAIN, { resources: { nodes: 4, time: "12:00:00" } })], { cwd, profile: "p.yaml", sample: true });
    expect(r.code).toBe(0);
    const rec = r.records[0]!;
    expect(rec.dir).toBe(join(cwd, "runs/sample-S-core"));
    expect(rec.resources).toMatchObject({ nodes: 1, time: "00:15:00" });
    const text = readFileSync((rec.script as { path: string }).path, "utf8");
    expect(text).toContain("#SBATCH --job-name=sample-S-core\n");
    expect(text).toContain("srun python train.py optimizer=sgd lr=0.1 wd=1e-4 seed=0 trainer.max_steps=100 checkpoint.enabled=false val.enabled=false\n");
  });

  it("the run's own sample overrides win over the profile's; model/optimizer/data overrides are refused", async () => {
    const cwd = tempDir();
    const ok = await renderRecords([run("a", TRAIN, { sample: { overrides: ["--max_steps", "50"] } })], { cwd, sample: true });
    expect(readFileSync((ok.records[0]!.script as { path: string }).path, "utf8")).toContain("seed=0 --max_steps 50\n");
    const bad = await renderRecords([run("b", TRAIN)], { cwd, sample: true, overrides: { sampleOverrides: ["optimizer=adam"] } });
    expect((bad.records[0]!.error as { message: string }).message).toMatch(/would change/);
    const none = await renderRecords([run("c", TRAIN)], { cwd, sample: true });
    expect(none.stderr).toMatch(/no sample overrides/);
  });
});

describe("--sample: the sample is a run of its own", () => {
  const full = () => run("S-core_lr0.05", ["python", "train.py", "lr=0.05", "max_steps=2000"], { params: { lr: 0.05, max_steps: 2000 } });

  it("works beside the full run's directory (same depth, relative paths still resolve), never inside it", async () => {
    const cwd = tempDir();
    const withDir = { ...full(), dir: "runs/tier3/S-core_lr0.05" };
    const fullRec = (await renderRecords([withDir], { cwd, profile: "local" })).records[0]!;
    const sample = (await renderRecords([withDir], { cwd, profile: "local", sample: true, overrides: { sampleOverrides: ["max_steps=100"] } })).records[0]!;
    expect(fullRec.dir).toBe(join(cwd, "runs/tier3/S-core_lr0.05"));
    expect(sample.dir).toBe(join(cwd, "runs/tier3/sample-S-core_lr0.05"));
  });

  it("own id (contentId of sample_of + overrides), name sample-<name>, sample_of; a different job tag from the full run", async () => {
    const cwd = tempDir();
    const fullRec = (await renderRecords([full()], { cwd, profile: "local" })).records[0]!;
    const r = await renderRecords([full()], { cwd, profile: "local", sample: true, overrides: { sampleOverrides: ["max_steps=100"] } });
    expect(r.code).toBe(0);
    const sample = r.records[0]!;
    expect(fullRec.id).toBe(full().id);
    expect(sample.id).toBe(contentId({ sample_of: full().id, overrides: ["max_steps=100"] }, 16));
    expect(sample.id).toMatch(/^[0-9a-f]{16,}$/);
    expect(sample.id).not.toBe(fullRec.id);
    expect(sample.name).toBe("sample-S-core_lr0.05");
    expect(sample.sample_of).toBe(full().id);
    // What slurm-submit names the two jobs: different run-id tags, so neither is skipped as the other.
    const fullTag = parseJobTag(taggedJobName(fullRec.name as string, fullRec.id as string))!;
    const sampleTag = parseJobTag(taggedJobName(sample.name as string, sample.id as string))!;
    expect(sampleTag.runIdPrefix).not.toBe(fullTag.runIdPrefix);
    expect(taggedJobName(sample.name as string, sample.id as string)).not.toBe(taggedJobName(fullRec.name as string, fullRec.id as string));
    // The script's job name is the sample's name.
    expect(readFileSync((sample.script as { path: string }).path, "utf8")).toContain("#SBATCH --job-name=sample-S-core_lr0.05\n");
  });

  it("the same sample renders to the same id; other overrides give another; re-rendering a sample record keeps it", async () => {
    const cwd = tempDir();
    const render = async (input: Record<string, unknown>, overrides: string[]) =>
      (await renderRecords([input], { cwd, profile: "local", sample: true, overrides: { sampleOverrides: overrides } })).records[0]!;
    const a = await render(full(), ["max_steps=100"]);
    expect((await render(full(), ["max_steps=100"])).id).toBe(a.id);
    expect((await render(full(), ["max_steps=50"])).id).not.toBe(a.id);
    const again = await render(a, ["max_steps=100"]);
    expect([again.id, again.name, again.sample_of]).toEqual([a.id, a.name, a.sample_of]);
  });

  it("--array: the table and the record carry the sample's id and name", async () => {
    const cwd = tempDir();
    const r = await renderRecords([full()], { cwd, profile: "local", sample: true, array: true, overrides: { sampleOverrides: ["max_steps=100"] } });
    expect(r.code).toBe(0);
    const rec = r.records[0]!;
    expect(rec.sample_of).toBe(full().id);
    expect(rec.name).toBe("sample-S-core_lr0.05");
    expect(rec.id).toBe(contentId({ sample_of: full().id, overrides: ["max_steps=100"] }, 16));
    const table = readFileSync((rec.script as { array: { table: string } }).array.table, "utf8");
    const b64 = (t: string) => `:${Buffer.from(t).toString("base64")}`;
    expect(table.startsWith(`${b64(rec.id as string)} ${b64("sample-S-core_lr0.05")} `)).toBe(true);
  });
});

describe("--sample overrides: scope keys may change even when swept; nothing else swept, and never the model, optimizer or data", () => {
  // As sweep-gen writes a tier3 run: max_steps is a fixed parameter of the sweep, lr and seed are swept.
  const params = { optimizer: "sgd", lr: 0.05, weight_decay: 1e-4, seed: 0, max_steps: 2000, dropout: 0.1, "max-epochs": 9 };
  const tier3 = (name: string) => run(name, ["python", "train.py", "lr=0.05", "max_steps=2000"], { params });
  const renderWith = async (overrides: string[]) => {
    const r = await renderRecords([tier3("t3")], { cwd: tempDir(), profile: "local", sample: true, overrides: { sampleOverrides: overrides } });
    return { code: r.code, error: (r.records[0]!.error as { message: string } | undefined)?.message, script: r.records[0]!.script as { path: string } | undefined };
  };

  it("max_steps=100 is a scope setting: allowed although max_steps is in params, appended after the full run's value", async () => {
    const r = await renderWith(["max_steps=100"]);
    expect(r.error).toBeUndefined();
    expect(r.code).toBe(0);
    expect(readFileSync(r.script!.path, "utf8")).toMatch(/train\.py lr=0\.05 max_steps=2000 max_steps=100\n/);
  });

  it.each([
    ["max_steps=100"], ["--max_steps", "50"], ["--max-epochs=1"], ["+trainer.max_steps=100"], ["trainer.limit_train_batches=10"], ["trainer.limit_val_batches=0"],
    ["trainer.val_check_interval=1.0"], ["trainer.enable_checkpointing=false"], ["checkpoint.enabled=false"], ["val.enabled=false"], ["--eval_steps=1000"],
    ["--save_steps=100000"], ["save_strategy=no"], ["checkpoint_every=0"], ["trainer.log_every_n_steps=1"], ["logging_steps=1"], ["--num_train_epochs", "1"],
    ["max_iters=100"], ["train_iters=100"], ["eval_interval=50"], ["log_interval=1"], ["data.max_train_samples=1000"], ["--max_train_samples=1000"],
    ["callbacks.model_checkpoint.every_n_train_steps=0"], ["epochs=1"], ["steps=10"],
  ])("allowed: %s", async (...overrides) => {
    expect((await renderWith(overrides)).error).toBeUndefined();
  });

  it.each([
    ["lr=0.1", "the lr"], ["seed=1", "the seed"], ["optimizer=adam", "the optimizer"], ["--learning-rate=1e-3", "the learning_rate"], ["model.width=64", "the model"],
    ["data=imagenet", "the data"], ["dataset.name=c4", "the dataset"], ["tokenizer.max_length=128", "the tokenizer"], ["warmup_steps=10", "the warmup"],
    ["optimizer.steps=10", "the optimizer"], ["model.eval_every=1", "the model"], ["dropout=0", "a swept parameter"], ["model_name_or_path=gpt2", "the model"],
    ["weight_decay=0", "the weight_decay"],
  ])("refused: %s (%s)", async (override, what) => {
    const r = await renderWith([override]);
    expect(r.code).toBe(1);
    expect(r.error).toContain(`would change ${what};`);
  });

  it("a key that is neither scope nor swept nor model/optimizer/data is left to the user", async () => {
    expect((await renderWith(["num_workers=2"])).error).toBeUndefined();
  });
});

describe("--array", () => {
  const runs = (n: number) => Array.from({ length: n }, (_, i) => run(`r${i}`, ["printf", "%s\\0", `v=${i}`, "it's $(x)\n"], { group: "tier3" }));

  it("one script and a params table; every record gets its index; arrays split above MaxArraySize", async () => {
    const cwd = tempDir();
    const r = await renderRecords(runs(7), { cwd, profile: "local", array: true, arrayLimit: 2, maxArraySize: 3 });
    expect(r.code).toBe(0);
    const scripts = r.records.map((x) => x.script as { path: string; array: { index: number; spec: string; id: string; name: string; table: string } });
    expect(new Set(scripts.map((s) => s.path)).size).toBe(3);
    expect(scripts.map((s) => s.array.index)).toEqual([0, 1, 2, 0, 1, 2, 0]);
    expect(scripts.map((s) => s.array.spec)).toEqual(["0-2%2", "0-2%2", "0-2%2", "0-2%2", "0-2%2", "0-2%2", "0-0%2"]);
    expect(scripts[0]!.array.name).toBe("tier3-array1of3");
    expect(scripts[0]!.array.id).toMatch(/^[0-9a-f]{12}$/);
    expect(readFileSync(scripts[0]!.path, "utf8")).toContain("#SBATCH --array=0-2%2\n");
    expect((r.records[0]!.logs as { stdout: string }).stdout).toMatch(/logs\/%A_%a\.out$/);
  });

  it("MaxArraySize comes from the cluster, else the profile, whichever is smaller", async () => {
    const cwd = tempDir();
    const r = await renderRecords(runs(5), { cwd, profile: "local", array: true, readMaxArraySize: async () => 2 });
    expect(new Set(r.records.map((x) => (x.script as { path: string }).path)).size).toBe(3);
  });

  it("runs with different resources go to different arrays", async () => {
    const cwd = tempDir();
    const input = runs(4);
    (input[3] as { resources?: unknown }).resources = { mem: "2G" };
    const r = await renderRecords(input, { cwd, profile: "local", array: true });
    expect(new Set(r.records.map((x) => (x.script as { path: string }).path)).size).toBe(2);
  });

  it("each task decodes exactly its own argv (run with bash, as Slurm would)", async () => {
    const cwd = tempDir();
    const r = await renderRecords(runs(3), { cwd, profile: "local", array: true });
    const script = r.records[0]!.script as { path: string };
    for (let task = 0; task < 3; task++) {
      const out = await execa("bash", [script.path], { env: { SLURM_ARRAY_TASK_ID: String(task) }, encoding: "buffer", reject: false });
      expect(out.exitCode).toBe(0);
      expect(Buffer.from(out.stdout as Uint8Array).toString("utf8")).toBe(`v=${task}\0it's $(x)\n\0`);
    }
    // a table changed after rendering is refused instead of running someone else's argv
    const table = (script as { array?: { table: string } }).array!.table;
    writeFileSync(table, readFileSync(table, "utf8").replace(/\n$/, "\n:eA==\n"));
    const bad = await execa("bash", [script.path], { env: { SLURM_ARRAY_TASK_ID: "0" }, reject: false });
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/changed since rendering/);
  });
});

/** scontrol that records `requeue` and answers `show job` with `show` (a job's StartTime and PreemptTime lines). */
function requeueStub(cwd: string, show = "   StartTime=2026-12-03T10:00:00 EndTime=Unknown\n   PreemptEligibleTime=2026-12-03T10:00:00 PreemptTime=None\n"): string {
  return `#!/bin/bash\nif [ "$1" = show ]; then printf %b ${JSON.stringify(show)}; exit 0; fi\necho "$@" > ${JSON.stringify(join(cwd, "requeued"))}\n`;
}

describe("--requeue-on-signal", () => {
  it("under srun the warning goes to the job's steps through scancel --signal, never to srun (which would SIGKILL the tasks)", async () => {
    const cwd = tempDir();
    const r = await renderRecords([run("q3", ["sleep", "1.5"], { resources: { time: "00:10:00" } })], { cwd, profile: "generic", overrides: { requeueOnSignal: 120 } });
    const path = (r.records[0]!.script as { path: string }).path;
    expect(readFileSync(path, "utf8")).toMatch(/^srun sleep 1\.5 &$/m);
    const bin = join(cwd, "bin");
    await execa("mkdir", ["-p", bin]);
    writeFileSync(join(bin, "srun"), `#!/bin/bash\ntrap 'echo TERM > ${JSON.stringify(join(cwd, "srun-got-term"))}' TERM\n"$@" & wait $!; wait $!\n`, { mode: 0o755 });
    writeFileSync(join(bin, "scancel"), `#!/bin/bash\necho "$@" > ${JSON.stringify(join(cwd, "scancel-args"))}\n`, { mode: 0o755 });
    writeFileSync(join(bin, "scontrol"), requeueStub(cwd), { mode: 0o755 });
    const job = execa("bash", [path], { env: { SLURM_JOB_ID: "79", PATH: `${bin}:${process.env.PATH}` }, reject: false });
    await new Promise((res) => setTimeout(res, 500));
    job.kill("SIGTERM");
    const done = await job;
    expect(done.exitCode, done.stderr).toBe(0);
    expect(readFileSync(join(cwd, "scancel-args"), "utf8")).toBe("--signal=TERM 79\n");
    expect(existsSync(join(cwd, "srun-got-term"))).toBe(false);
    expect(existsSync(join(cwd, "requeued"))).toBe(false);
  });

  it("a job preempted during this segment (scontrol: PreemptTime after StartTime) waits, its SIGTERM ignored, for Slurm to requeue it at the end of the grace time", async () => {
    const cwd = tempDir();
    const r = await renderRecords([run("q4", ["true"], {})], { cwd, profile: "local", overrides: { requeueOnSignal: 60 } });
    const path = (r.records[0]!.script as { path: string }).path;
    const bin = join(cwd, "bin");
    await execa("mkdir", ["-p", bin]);
    const preempted = "   StartTime=2026-12-03T10:00:00 EndTime=2026-12-03T10:05:30\n   PreemptEligibleTime=2026-12-03T10:00:00 PreemptTime=2026-12-03T10:05:00\n";
    writeFileSync(join(bin, "scontrol"), requeueStub(cwd, preempted), { mode: 0o755 });
    const job = execa("bash", [path], { env: { SLURM_JOB_ID: "80", PATH: `${bin}:${process.env.PATH}` }, reject: false });
    let stderr = "";
    job.stderr?.on("data", (d: Buffer) => {
      stderr += String(d);
    });
    while (!stderr.includes("waiting for Slurm")) await new Promise((res) => setTimeout(res, 100));
    job.kill("SIGTERM"); // Slurm's SIGTERM at the end of the grace time: ignored, SIGKILL follows
    await new Promise((res) => setTimeout(res, 1500));
    expect(job.exitCode).toBeNull();
    job.kill("SIGKILL");
    await job;
    expect(stderr).toContain("slurmpipe: job 80 was preempted at 2026-12-03T10:05:00; waiting for Slurm to requeue it at the end of its grace time");
    expect(existsSync(join(cwd, "requeued"))).toBe(false);
  });

  it("a segment of a job whose command already ended well (Slurm 24.11.5 requeued it once more) ends at once, exit 0", async () => {
    const cwd = tempDir();
    const count = join(cwd, "segments");
    const r = await renderRecords([run("q5", ["bash", "-c", `echo ran >> ${count}; exit \${SP_TEST_RC:-0}`], {})], { cwd, profile: "local", overrides: { requeueOnSignal: 60 } });
    const path = (r.records[0]!.script as { path: string }).path;
    const bin = join(cwd, "bin");
    await execa("mkdir", ["-p", bin]);
    writeFileSync(join(bin, "scontrol"), requeueStub(cwd), { mode: 0o755 });
    const segment = (id: string, rc = "0") => execa("bash", [path], { env: { SLURM_JOB_ID: id, SP_TEST_RC: rc, PATH: `${bin}:${process.env.PATH}` }, reject: false });
    // A failed segment leaves nothing: the next one runs the command again.
    expect((await segment("81", "3")).exitCode).toBe(3);
    expect((await segment("81")).exitCode).toBe(0);
    const again = await segment("81");
    expect(again.exitCode).toBe(0);
    expect(again.stderr).toContain("slurmpipe: job 81 already ran to its end in an earlier segment; Slurm requeued it once more: not run again");
    expect(readFileSync(count, "utf8")).toBe("ran\nran\n");
    // Another job (a resubmission) and a run by hand (no SLURM_JOB_ID) are not held back.
    expect((await segment("82")).exitCode).toBe(0);
    const byHand = await execa("bash", [path], { env: { PATH: `${bin}:${process.env.PATH}` }, extendEnv: true, reject: false });
    expect(byHand.exitCode).toBe(0);
    expect(readFileSync(count, "utf8")).toBe("ran\nran\nran\nran\n");
  });

  it("writes --signal and --requeue, forwards TERM to the training process and waits for it", async () => {
    const cwd = tempDir();
    const marker = join(cwd, "got-term");
    const child = join(cwd, "child.sh");
    // The "training process": on TERM it checkpoints (writes a file) after a moment, then exits 0.
    writeFileSync(child, `#!/bin/bash\ntrap 'sleep 0.5; echo checkpointed > "$1"; exit 0' TERM\nwhile :; do sleep 0.1; done\n`);
    const r = await renderRecords([run("q", ["bash", child, marker], { resources: { time: "00:10:00" } })], { cwd, profile: "local", overrides: { requeueOnSignal: 120 } });
    const path = (r.records[0]!.script as { path: string }).path;
    const text = readFileSync(path, "utf8");
    expect(text).toContain("#SBATCH --signal=B:SIGTERM@120\n#SBATCH --requeue\n");
    const bin = join(cwd, "bin");
    await execa("mkdir", ["-p", bin]);
    writeFileSync(join(bin, "scontrol"), requeueStub(cwd), { mode: 0o755 });
    const job = execa("bash", [path], { env: { SLURM_JOB_ID: "77", PATH: `${bin}:${process.env.PATH}` }, reject: false });
    await new Promise((res) => setTimeout(res, 700));
    job.kill("SIGTERM");
    const done = await job;
    expect(done.exitCode).toBe(0);
    expect(readFileSync(marker, "utf8")).toBe("checkpointed\n");
    // 0.7 s into a 10-minute job is not the time-limit warning: no self-requeue
    expect(existsSync(join(cwd, "requeued"))).toBe(false);
  });

  it("requeues itself when the warning comes near the time limit", async () => {
    const cwd = tempDir();
    const r = await renderRecords([run("q2", ["sleep", "30"], { resources: { time: "00:01:00" } })], { cwd, profile: "local", overrides: { requeueOnSignal: 60 } });
    const path = (r.records[0]!.script as { path: string }).path;
    const bin = join(cwd, "bin");
    await execa("mkdir", ["-p", bin]);
    writeFileSync(join(bin, "scontrol"), requeueStub(cwd), { mode: 0o755 });
    const job = execa("bash", [path], { env: { SLURM_JOB_ID: "78", PATH: `${bin}:${process.env.PATH}` }, reject: false });
    await new Promise((res) => setTimeout(res, 500));
    job.kill("SIGTERM");
    const done = await job;
    expect(done.exitCode).toBe(143);
    expect(readFileSync(join(cwd, "requeued"), "utf8")).toBe("requeue 78\n");
  });
});

describe("profile clamp", () => {
  it("the local profile lowers requests the test cluster cannot meet and drops GPUs, warning once", async () => {
    const cwd = tempDir();
    const r = await renderRecords([run("g1", TRAIN, { resources: { gpus_per_node: 1, mem: "16G", cpus_per_task: 2 } }), run("g2", TRAIN, { resources: { gpus_per_node: 1 } })], { cwd, profile: "local" });
    expect(r.code).toBe(0);
    expect(r.records[0]!.resources).toEqual({ partition: "debug", nodes: 1, cpus_per_task: 2, mem: "4G", time: "00:10:00" });
    expect(r.stderr.match(/gpus_per_node 1 dropped/g)).toHaveLength(1);
  });
});

describe("--array grouping", () => {
  it("runs of different groups (sweep variants) get their own array, named after the group", async () => {
    const cwd = tempDir();
    const input = ["S-core", "S-core", "S-adamw"].map((g, i) => run(`g${i}`, ["true"], { group: g }));
    const r = await renderRecords(input, { cwd, profile: "local", array: true });
    const names = r.records.map((x) => (x.script as { array: { name: string } }).array.name);
    expect(names).toEqual(["S-core-array", "S-core-array", "S-adamw-array"]);
  });
});

describe("--array output records (runs wait compactly until the arrays are known)", () => {
  it("are the input record plus dir, resources, script and logs: fields keep their place, order and pass-throughs are kept", async () => {
    const cwd = tempDir();
    // a re-rendered record: stale dir/script/logs sit before other fields and keep their places
    const rerendered = { id: "aaaa00000001", script: { path: "/old/job.sbatch" }, name: "a1", dir: "old", logs: {}, params: { lr: 0.1 }, command: ["true"], custom: { x: [1, "y"] } };
    const other = { kind: "event", run: "zzz" };
    const input = [rerendered, other, run("a2", ["true"], { resources: { env: { B: "2" }, setup: ["echo hi"] } }), "{bad json", run("a3", ["true"])];
    const r = await renderRecords(input, { cwd, profile: "local", array: true });
    expect(r.code).toBe(1);
    expect(r.records).toHaveLength(4);
    expect(Object.keys(r.records[0]!)).toEqual(["id", "script", "name", "dir", "logs", "params", "command", "custom", "resources"]);
    expect(r.records[0]!.custom).toEqual({ x: [1, "y"] });
    expect(r.records[0]!.dir).toBe(join(cwd, "old"));
    expect((r.records[0]!.script as { array: { index: number } }).array.index).toBe(0);
    expect(r.records[1]).toEqual(other);
    expect(Object.keys(r.records[2]!)).toEqual(["id", "name", "params", "command", "resources", "dir", "script", "logs"]);
    expect(r.records[2]!.resources).toMatchObject({ env: { B: "2" }, setup: ["echo hi"] });
    expect(r.records[3]!.resources).not.toHaveProperty("env");
    expect((r.records[3]!.script as { array: { index: number } }).array.index).toBe(1);
    expect((r.records[3]!.script as { path: string }).path).toBe((r.records[0]!.script as { path: string }).path);
    expect(r.records[3]!.logs).toEqual(r.records[0]!.logs);
  });
});

describe("olivia's apptainer wrapper keeps argv byte for byte (fake apptainer and module on PATH)", () => {
  const HOSTILE = ["$(touch /tmp/sp-render-pwned)", "`id`", "it's \"q\"", "a;b\nc", "☃ \\ #x", ""];

  function fakeCluster(cwd: string): Record<string, string> {
    const bin = join(cwd, "bin");
    const venv = join(cwd, "venv");
    execaSync("mkdir", ["-p", bin, join(venv, "bin")]);
    // apptainer exec [--options] [--bind PATH]... IMAGE CMD...: run CMD here; srun CMD: run CMD here (never the
    // real cluster's srun); module: a no-op
    writeFileSync(join(bin, "apptainer"), '#!/bin/bash\nshift\nwhile [[ "$1" == --* ]]; do [[ "$1" == --bind ]] && shift; shift; done\nshift\nexec "$@"\n', { mode: 0o755 });
    writeFileSync(join(bin, "srun"), '#!/bin/bash\nwhile [[ "$1" == --* ]]; do shift; done\nexec "$@"\n', { mode: 0o755 });
    writeFileSync(join(bin, "module"), "#!/bin/bash\nexit 0\n", { mode: 0o755 });
    writeFileSync(join(venv, "bin", "activate"), "export IN_VENV=1\n");
    return { PATH: `${bin}:${process.env.PATH}`, SLURM_ARRAY_TASK_ID: "1" };
  }

  for (const mode of ["single", "array", "requeue"] as const) {
    it(mode, async () => {
      const cwd = tempDir();
      const env = fakeCluster(cwd);
      const cmd = ["bash", "-c", 'test "$IN_VENV" = 1 && printf "%s\\0" "$@"', "argv0", ...HOSTILE];
      const input = [run("o0", ["true"], { group: "g" }), run("o1", cmd, { group: "g" })];
      const r = await renderRecords(input, {
        cwd,
        profile: "olivia",
        array: mode === "array",
        overrides: { resources: { account: "nn1k" }, container: "/x.sif", venv: join(cwd, "venv"), requeueOnSignal: mode === "requeue" ? 60 : undefined },
      });
      expect(r.code, r.stderr).toBe(0);
      const out = await execa("bash", [(r.records[1]!.script as { path: string }).path], { env, encoding: "buffer", reject: false });
      expect(out.exitCode, Buffer.from(out.stderr as Uint8Array).toString()).toBe(0);
      expect(Buffer.from(out.stdout as Uint8Array).equals(Buffer.from(HOSTILE.map((v) => `${v}\0`).join(""), "utf8"))).toBe(true);
    });
  }
});
