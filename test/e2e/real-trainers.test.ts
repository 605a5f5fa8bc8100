// The pipeline on real training (examples/real/: a plain PyTorch loop, a Lightning module, an HF
// Trainer, on the CPU, in the venv scripts/real-venv makes once per machine), on both backends:
// the demo's stages (examples/Makefile with examples/real/demo.yaml, what `scripts/demo --torch`
// runs), the sample-run recipe on the HF Trainer, and a checkpoint-requeue-resume through the
// frameworks' own resume paths. Every failure is produced by the framework itself; the assertions
// are what a person reads from the logs and from the files the frameworks wrote.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { repoRoot } from "../support/cli.ts";
import { requireCluster } from "../support/slurm.ts";
import { backends, cancelOwn, ensureBin, loadRecipe, readRecords, runStep, scratch } from "./support/recipe.ts";

const real = join(repoRoot, "examples/real");
let python = "";

interface Point {
  step: number;
  value: number | null;
}
interface Run {
  kind: string;
  name: string;
  dir: string;
  state: { state: string; exit_code?: string };
  report: { loss: { trend: string; first: number | null }; series: Record<string, Point[]>; failures: { class: string; message?: string }[]; first_nonfinite?: unknown };
}
const runsIn = (file: string) => new Map((readRecords(file).filter((r) => r.kind === "run") as unknown as Run[]).map((r) => [r.name, r]));

/** Files under dir whose name is `name`, at any depth. */
function findAll(dir: string, name: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name === name)
    .map((e) => join(e.parentPath, e.name));
}

/** Step -> value of one column of Lightning's CSVLogger metrics.csv (sparse rows). */
function csvColumn(file: string, column: string): Map<number, number> {
  const [head, ...rows] = readFileSync(file, "utf8").trim().split("\n");
  const cols = head!.split(",");
  const [s, c] = [cols.indexOf("step"), cols.indexOf(column)];
  return new Map(rows.map((r) => r.split(",")).filter((r) => r[c] !== "").map((r) => [Number(r[s]), Number(r[c])]));
}

const near = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));

beforeAll(async () => {
  // Made once per machine (scripts/test-all makes it before the suite); a failure here fails the file.
  python = String((await execa("bash", [join(repoRoot, "scripts/real-venv")])).stdout).trim();
  await ensureBin();
}, 600_000);

for (const backend of backends()) {
  backend.describe(`real trainers (${backend.name})`, () => {
    const s = scratch(`real-${backend.name}`);
    const out = join(s.dir, "demo");
    beforeAll(() => {
      if (backend.name === "slurm") requireCluster();
    });
    afterAll(async () => {
      for (const state of [join(out, ".slurmpipe"), join(s.dir, "sample", ".slurmpipe-sample")]) await cancelOwn(state, backend.name, s.env.SLURMPIPE_LOCAL_DIR);
      s.cleanup();
    });

    it("the demo's stages on the 11 real runs: each real failure classified, losses equal to the frameworks' own files, the Parquet dataset read back by pyarrow", async () => {
      const make = ["-C", join(repoRoot, "examples"), "demo", `BACKEND=${backend.name}`, `OUT=${out}`, `SWEEP=${join(real, "demo.yaml")}`, `SWEEP_FLAGS=-p python=${python} -p real=${real}`, `INTERVAL=${backend.name === "local" ? "1s" : "2s"}`];
      const r = await execa("make", make, { env: s.env, reject: false, timeout: 400_000 });
      expect(r.exitCode, `${r.stdout.slice(-2000)}\n${r.stderr.slice(-3000)}`).toBe(0);
      const runs = runsIn(join(out, "parsed.ndjson"));
      expect(runs.size).toBe(11);

      // lr=5 overflows to inf and then NaN in the loop's own printing: "Step [15/40], Loss: nan".
      const diverge = runs.get("diverge_lr5_s0")!;
      expect(diverge.state.state).toBe("COMPLETED");
      expect(diverge.report.loss.trend).toBe("NAN");
      expect(diverge.report.failures.map((f) => f.message)).toContain("loss became nan at step 15");
      // torch's own shape check inside Lightning's training step.
      const shape = runs.get("shape_lr0.05_s0")!;
      expect([shape.state.state, shape.state.exit_code]).toEqual(["FAILED", "1:0"]);
      expect(shape.report.failures[0]).toMatchObject({ class: "PYTHON_EXCEPTION" });
      expect(shape.report.failures[0]!.message).toMatch(/^RuntimeError: mat1 and mat2 shapes cannot be multiplied \(4x3 and 8x32\)/);
      // The HF Trainer slowed to 2 s a step, killed at its 20 s limit (Slurm: rounded up to 1 min).
      const slow = runs.get("slow_lr0.05_s0")!;
      expect(slow.state.state).toBe("TIMEOUT");
      expect(slow.report.failures.map((f) => f.class)).toContain("TIME_LIMIT");
      for (const [name, run] of runs) {
        if (/^(diverge|shape|slow)_/.test(name)) continue;
        expect([name, run.state.state, run.report.loss.trend, run.report.failures]).toEqual([name, "COMPLETED", "DECREASING", []]);
      }

      // The loss series log-parse reports are the values the frameworks wrote themselves.
      const lightning = runs.get("lightning_lr0.05_s0")!;
      const [csv] = findAll(lightning.dir, "metrics.csv");
      const written = csvColumn(csv!, "train_loss");
      expect(written.size).toBeGreaterThan(10);
      const seen = new Map(lightning.report.series.loss!.map((p) => [p.step, p.value]));
      for (const [step, value] of written) expect(near(seen.get(step) ?? Number.NaN, value), `lightning step ${step}`).toBe(true);
      const hf = runs.get("hf_lr0.05_s0")!;
      const state = JSON.parse(readFileSync(join(hf.dir, "hf/trainer_state.json"), "utf8")) as { log_history: { step: number; loss?: number }[] };
      const logged = state.log_history.filter((h) => h.loss !== undefined);
      expect(logged.length).toBe(12);
      const hfSeen = new Map(hf.report.series.loss!.map((p) => [p.step, p.value]));
      for (const h of logged) expect(near(hfSeen.get(h.step) ?? Number.NaN, h.loss!), `hf step ${h.step}`).toBe(true);

      // The archive's dataset, read back by pyarrow: the Lightning run's rows carry the CSV's losses.
      const summary = readRecords(join(out, "archive.ndjson")).find((e) => e.kind === "archive-summary")!;
      expect(summary.verified).toBe(true);
      const unpacked = join(s.dir, "unpacked");
      mkdirSync(unpacked);
      await execa("tar", ["-xzf", String(summary.archive), "-C", unpacked]);
      const [parquet] = findAll(unpacked, "metrics.parquet");
      const read = [
        "import json, sys, pyarrow.parquet as pq",
        "t = pq.read_table(sys.argv[1]).to_pylist()",
        "print(json.dumps([[r['name'], r['step'], r.get('train_loss')] for r in t if r['name'] == 'lightning_lr0.05_s0' and r.get('train_loss') is not None]))",
      ].join("\n");
      const rows = JSON.parse(String((await execa(python, ["-c", read, parquet!])).stdout)) as [string, number, number][];
      expect(rows.length).toBe(written.size);
      for (const [, step, value] of rows) expect(near(value, written.get(step)!), `parquet step ${step}`).toBe(true);
    }, 480_000);

    it("the sample-run recipe on the HF Trainer: a healthy run READY, one with a shape error NOT READY", async () => {
      const recipe = loadRecipe("sample-run");
      for (const [sub, extra, verdict] of [
        ["sample", "", /\*\*READY\*\*/],
        ["sample-broken", ", fail: shape, fail_at: 4", /NOT READY/],
      ] as const) {
        const dir = join(s.dir, sub);
        mkdirSync(dir, { recursive: true });
        const sweep = [
          `command: [${JSON.stringify(python)}, ${JSON.stringify(join(real, "hf_trainer.py"))}]`,
          "args: hydra",
          `name: "real-${sub}-lr{lr}"`,
          `params: { max_steps: 200, log_every: 2, save_every: 10${extra} }`,
          "grid: { lr: [0.001, 0.002] }",
          'resources: { time: "00:05:00", mem: 2G }',
          "",
        ].join("\n");
        writeFileSync(join(dir, "sweep.yaml"), sweep);
        const env = { ...s.env, ...backend.env(), SWEEP: "sweep.yaml", SAMPLE_STEPS: "20", INTERVAL: backend.name === "local" ? "1s" : "2s", HOME: dir };
        for (const step of ["render", "submit", "check", "report"]) await runStep(recipe, step, dir, env);
        const report = readFileSync(join(dir, "SAMPLE_RUN.md"), "utf8");
        expect(report, sub).toMatch(verdict);
        if (sub === "sample") expect(report).not.toMatch(/NOT READY/);
        const [parsed] = [...runsIn(join(dir, "sample-parsed.ndjson")).values()];
        if (sub === "sample") expect(parsed!.report.loss.trend).toBe("DECREASING");
        else expect(parsed!.report.failures.map((f) => f.class)).toContain("PYTHON_EXCEPTION");
      }
    }, 300_000);
  });
}
