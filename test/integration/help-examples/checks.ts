import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { RUNS, addRun, summaryMarkdown } from "../../e2e/support/experiment.ts";

export interface ShResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface Sandbox {
  dir: string;
  env: NodeJS.ProcessEnv;
  /** Runs a shell line in the sandbox (bash, pipefail), as a user would type it. */
  sh: (script: string) => Promise<ShResult>;
  copyRun: (from: string, to: string) => void;
}

export interface ExampleCheck {
  /** 0 unless the example's point is a failure (then what it promises: e.g. 1 for "exit 1 naming ..."). */
  exitCode?: number;
  /** Sets the scene the example's description assumes (run just before it). */
  before?: (box: Sandbox) => Promise<void>;
  verify: (r: ShResult, box: Sandbox, what: string) => void | Promise<void>;
}

function lines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function runs(text: string): Record<string, unknown>[] {
  return lines(text).filter((r) => r.kind === undefined || r.kind === "run");
}

async function must(box: Sandbox, script: string): Promise<ShResult> {
  const r = await box.sh(script);
  if (r.exitCode !== 0 && r.exitCode !== 1) throw new Error(`preparing the sandbox: \`${script}\` exited ${r.exitCode}\n${r.stderr.slice(-2000)}`);
  return r;
}

const state = (r: Record<string, unknown>) => (r.state as { state?: string } | undefined)?.state;
const job = (r: Record<string, unknown>) => r.job as { id: string; attempt?: number } | undefined;

/** What each command's examples need before they run (the files their text names). */
export const prepare: Record<string, (box: Sandbox) => Promise<void>> = {
  "sweep-gen": async (box) => {
    // A scaffolded torchtune experiment directory (seed 002's layout) for the --from-dirs example.
    const exp = join(box.dir, "exp");
    mkdirSync(exp);
    writeFileSync(join(exp, "experiment_summary.md"), summaryMarkdown(RUNS));
    for (const run of RUNS) addRun(exp, run, "python3");
  },
  "slurm-render": async (box) => {
    await must(box, "sweep-gen grid.yaml > runs.ndjson");
  },
  "slurm-submit": async (box) => {
    await must(box, "sweep-gen grid.yaml | slurm-render --profile generic > rendered.ndjson");
  },
  "slurm-poll": async (box) => {
    await must(box, "sweep-gen grid.yaml | slurm-render --profile generic > rendered.ndjson");
  },
  "log-parse": async (box) => {
    // runs.ndjson here is what log-parse reads: polled records whose logs exist.
    await must(box, "sweep-gen grid.yaml | slurm-render --profile generic | slurm-submit > submitted.ndjson");
    await must(box, "slurm-poll < submitted.ndjson > runs.ndjson");
    const failed = runs(readFileSync(join(box.dir, "runs.ndjson"), "utf8")).find((r) => r.name === "lr0.2")!;
    const id = job(failed)!.id;
    box.copyRun(`runs/lr0.2/logs/${id}.out`, "logs-12345.out");
    box.copyRun(`runs/lr0.2/logs/${id}.err`, "logs-12345.err");
    await must(box, "mkdir -p logs && mv logs-12345.out logs/12345.out && mv logs-12345.err logs/12345.err");
  },
  "summary-md": async (box) => {
    await must(box, "sweep-gen grid.yaml > runs.ndjson && slurm-render --profile generic < runs.ndjson | slurm-submit > submitted.ndjson");
    await must(box, "slurm-poll < submitted.ndjson > poll.ndjson; log-parse < poll.ndjson > parsed.ndjson");
    // The sample run of the same sweep: one run, scope-reduced, polled to the end.
    await must(box, "cp runs.ndjson full.ndjson && head -1 runs.ndjson | slurm-render --profile generic --sample --state .sample | slurm-submit --state .sample | slurm-poll > sample.ndjson");
    const table = ["# lr sweep", "", "## Fine-tuning", "", "| Run Name | Status | Job ID | Started | Completed | Notes |", "|---|---|---|---|---|---|", "| lr0.1 | | | | | |", "| lr0.2 | | | | | |", ""];
    writeFileSync(join(box.dir, "experiment_summary.md"), table.join("\n"));
  },
  archive: async (box) => {
    await must(box, "sweep-gen grid.yaml > runs.ndjson && slurm-render --profile generic < runs.ndjson | slurm-submit | slurm-poll > /dev/null");
  },
};

/** One check per example, keyed by the example's text exactly as --help prints it. */
export const checks: Record<string, ExampleCheck> = {
  // sweep-gen
  "sweep-gen examples/tier3.yaml --count": { verify: (r) => expect(r.stdout.trim()).toBe("216") },
  "sweep-gen examples/tier3.yaml --filter variant=S-core --filter 'lr>0.05' | head -1": {
    verify: (r) => {
      const [run] = runs(r.stdout);
      expect(run?.variant).toBe("S-core");
      expect((run!.params as { lr: number }).lr).toBeGreaterThan(0.05);
    },
  },
  "sweep-gen -p lr=0.05,0.1,0.2 -p seed=0..5 --args hydra -- python train.py": {
    verify: (r) => {
      const out = runs(r.stdout);
      expect(out).toHaveLength(18);
      expect(out[0]!.command).toEqual(["python", "train.py", "lr=0.05", "seed=0"]);
    },
  },
  "sweep-gen sweep.yaml --sample 32 --method sobol --seed 7": {
    verify: (r) => {
      const out = runs(r.stdout);
      expect(out).toHaveLength(32);
      expect(new Set(out.map((x) => (x.params as { lr: number }).lr)).size).toBe(32);
    },
  },
  "sweep-gen --from-dirs 'exp/*/finetune.slurm' | slurm-submit": {
    verify: (r) => {
      const out = runs(r.stdout);
      expect(out.map((x) => x.name).sort()).toEqual(RUNS.map((x) => x.name).sort());
      expect(out.every((x) => /^\d+$/.test(job(x)?.id ?? ""))).toBe(true);
    },
  },

  // slurm-render
  "sweep-gen examples/tier3.yaml | slurm-render --profile lumi --account project_465000123 --container /appl/local/laifs/containers/lumi-multitorch-latest.sif --out runs/": {
    verify: (r, box) => {
      const out = runs(r.stdout);
      expect(out).toHaveLength(216);
      const script = readFileSync((out[0]!.script as { path: string }).path, "utf8");
      expect(script).toContain("#SBATCH --account=project_465000123");
      expect(script).toMatch(/srun .*singularity exec .*lumi-multitorch-latest\.sif/);
      expect((out[0]!.script as { path: string }).path.startsWith(join(box.dir, "runs/"))).toBe(true);
    },
  },
  "sweep-gen grid.yaml | slurm-render --profile olivia --account nn1234k --container /cluster/work/me/pytorch.sif --sample": {
    verify: (r) => {
      const out = runs(r.stdout);
      expect(out).toHaveLength(2);
      const script = readFileSync((out[0]!.script as { path: string }).path, "utf8");
      expect(script).toContain("#SBATCH --account=nn1234k");
      expect(script).toContain("/cluster/work/me/pytorch.sif");
      expect(script).toMatch(/#SBATCH --time=00:15:00/);
    },
  },
  "sweep-gen grid.yaml | slurm-render --profile generic --array --array-limit 20 | slurm-submit": {
    verify: (r) => {
      const out = runs(r.stdout);
      expect(out).toHaveLength(2);
      // One array job for both runs, at most 20 tasks at once.
      expect(new Set(out.map((x) => (x.job as { array_job_id?: string }).array_job_id ?? job(x)!.id.split("_")[0])).size).toBe(1);
      expect((out[0]!.script as { array?: { spec?: string } }).array?.spec).toBe("0-1%20");
    },
  },
  "slurm-render runs.ndjson --profile ./mycluster.yaml --requeue-on-signal 600 --check": {
    verify: (r) => {
      const out = runs(r.stdout);
      expect(out).toHaveLength(2);
      const script = readFileSync((out[0]!.script as { path: string }).path, "utf8");
      expect(script).toContain("#SBATCH --signal=B:SIGTERM@600");
      expect(script).toContain("#SBATCH --time=00:20:00");
    },
  },

  // slurm-submit
  "sweep-gen grid.yaml | slurm-render --profile generic | slurm-submit --stagger 5s | slurm-poll": {
    exitCode: 1, // lr0.2 fails, as the sweep says: slurm-poll exits 1 when a job failed
    verify: (r) => {
      const out = runs(r.stdout);
      expect(Object.fromEntries(out.map((x) => [x.name, state(x)]))).toEqual({ "lr0.1": "COMPLETED", "lr0.2": "FAILED" });
    },
  },
  "slurm-submit --dry-run < rendered.ndjson > /dev/null": {
    verify: (r) => {
      // Both runs are submitted already (the example before): the dry run says so, and submits nothing.
      expect(r.stderr).toMatch(/dry run: 0 would be submitted, 2 already submitted/);
    },
  },
  "slurm-poll --once --state .slurmpipe | slurm-submit --resubmit failed": {
    exitCode: 1, // slurm-poll: a job failed (lr0.2), as the sweep says
    verify: (r) => {
      const byName = Object.fromEntries(runs(r.stdout).map((x) => [x.name, job(x)!]));
      expect(byName["lr0.2"]!.attempt).toBe(2);
      expect(byName["lr0.1"]!.attempt).toBe(1);
      expect(r.stderr).toMatch(/1 resubmitted/);
    },
  },
  "slurm-submit --resubmit-where state.state=TIMEOUT --only group=lr-sweep < rendered.ndjson": {
    verify: (r) => {
      // Nothing timed out: nothing is resubmitted, every run comes out with its latest job.
      expect(runs(r.stdout)).toHaveLength(2);
      expect(r.stderr).toMatch(/0 submitted, 0 resubmitted/);
    },
  },
  "slurm-submit --max-in-flight 50 --rate 20/1m --wait-lock < rendered.ndjson": {
    verify: (r) => {
      expect(runs(r.stdout)).toHaveLength(2);
      expect(r.stderr).toMatch(/2 already submitted/);
    },
  },

  // slurm-poll
  "sweep-gen grid.yaml | slurm-render --profile generic | slurm-submit | slurm-poll --log run.log | summary-md > STATUS.md": {
    exitCode: 1, // slurm-poll: a job failed (lr0.2), as the sweep says
    verify: (_r, box) => {
      const status = readFileSync(join(box.dir, "STATUS.md"), "utf8");
      expect(status).toMatch(/\| lr0\.1 \| COMPLETED \|/);
      expect(status).toMatch(/\| lr0\.2 \| FAILED \|/);
      expect(readFileSync(join(box.dir, "run.log"), "utf8")).toMatch(/ALL_COMPLETE/);
    },
  },
  "slurm-poll --once --state .slurmpipe | summary-md > STATUS.md": {
    exitCode: 1, // slurm-poll: a job failed (lr0.2), as the sweep says
    verify: (_r, box) => expect(readFileSync(join(box.dir, "STATUS.md"), "utf8")).toMatch(/1 of 2 completed/),
  },
  "slurm-submit < rendered.ndjson | slurm-poll --interval 30s --early 3m --max-requeues 3": {
    exitCode: 1,
    verify: (r) => {
      const failed = runs(r.stdout).find((x) => x.name === "lr0.2")!;
      expect(state(failed)).toBe("FAILED");
      // --early: the failure within its first minutes comes with the tail of its stderr.
      expect(JSON.stringify((failed.state as { early_failure?: unknown }).early_failure)).toMatch(/ValueError|Error/);
    },
  },
  "slurm-poll --state .slurmpipe | jq -c 'select(.kind == \"event\")'": {
    exitCode: 1,
    // Something to watch: the failed run resubmitted (attempt 2 fails again).
    before: async (box) => {
      await must(box, "slurm-poll --once --state .slurmpipe | slurm-submit --resubmit failed > /dev/null");
    },
    verify: (r) => {
      const events = lines(r.stdout);
      expect(events.every((e) => e.kind === "event")).toBe(true);
      expect(events.filter((e) => e.name === "lr0.2").map((e) => e.to)).toContain("FAILED");
    },
  },

  "slurm-poll --state .slurmpipe --cancel-unsatisfiable --progress 10m 2>> poll.err": {
    exitCode: 1,
    // A job whose afterok upstream fails: "up" (lr0.2's script: raises) and "down" after it.
    before: async (box) => {
      await must(
        box,
        [
          `jq -c 'select(.name == "lr0.2") | .id = "up0000000001" | .name = "up"' rendered.ndjson > pair.ndjson`,
          `jq -c 'select(.name == "lr0.1") | .id = "dn0000000001" | .name = "down" | .depends_on = ["up0000000001"]' rendered.ndjson >> pair.ndjson`,
          "slurm-submit < pair.ndjson > /dev/null",
        ].join(" && "),
      );
    },
    verify: (r, box) => {
      // Reported blocked first, then cancelled: its last record says CANCELLED.
      const down = runs(r.stdout).filter((x) => x.name === "down");
      expect(down.map((x) => (x.state as { category?: string }).category)).toContain("blocked");
      expect(state(down.at(-1)!)).toBe("CANCELLED");
      const err = readFileSync(join(box.dir, "poll.err"), "utf8");
      expect(err).toMatch(/down/);
      expect(err).toMatch(/cancel/i);
    },
  },

  // log-parse
  "slurm-poll < submitted.ndjson | log-parse | summary-md > STATUS.md": {
    exitCode: 1, // slurm-poll: a job failed (lr0.2), as the sweep says
    verify: (_r, box) => {
      const status = readFileSync(join(box.dir, "STATUS.md"), "utf8");
      expect(status).toMatch(/PYTHON_EXCEPTION|ValueError/);
    },
  },
  "log-parse logs/12345.out logs/12345.err": {
    verify: (r) => {
      const reports = lines(r.stdout);
      expect(reports.length).toBeGreaterThan(0);
      expect(JSON.stringify(reports)).toMatch(/PYTHON_EXCEPTION/);
    },
  },
  "log-parse --metric 'val_acc=val acc (\\S+)' < runs.ndjson": {
    verify: (r) => {
      const out = runs(r.stdout);
      expect(out).toHaveLength(2);
      expect(out.every((x) => x.report !== undefined)).toBe(true);
    },
  },
  "log-parse < runs.ndjson | jq -c 'select(.report.ok == false) | {name, failures: [.report.failures[].class]}'": {
    verify: (r) => expect(lines(r.stdout)).toEqual([{ name: "lr0.2", failures: ["PYTHON_EXCEPTION"] }]),
  },

  // summary-md
  "slurm-poll --state .slurmpipe | log-parse | summary-md --expected runs.ndjson -o STATUS.md": {
    exitCode: 1, // slurm-poll: a job failed (lr0.2), as the sweep says
    verify: (_r, box) => {
      const status = readFileSync(join(box.dir, "STATUS.md"), "utf8");
      expect(status).toMatch(/\| lr0\.2 \| FAILED \|/);
      expect(readdirSync(join(box.dir, "plots")).some((f) => f.endsWith(".svg"))).toBe(true);
    },
  },
  "cat poll.ndjson | log-parse | summary-md --update experiment_summary.md": {
    verify: (_r, box) => {
      const text = readFileSync(join(box.dir, "experiment_summary.md"), "utf8");
      expect(text).toMatch(/\| lr0\.1 \| COMPLETED \| \d+ \|/);
      expect(text).toMatch(/\| lr0\.2 \| FAILED \| \d+ \|/);
    },
  },
  "log-parse < sample.ndjson | summary-md --sample --expected full.ndjson -o SAMPLE_RUN.md": {
    verify: (_r, box) => expect(readFileSync(join(box.dir, "SAMPLE_RUN.md"), "utf8")).toMatch(/READY/),
  },
  "summary-md --color-by lr --expected runs.ndjson -o STATUS.md parsed.ndjson": {
    verify: (_r, box) => {
      const svgs = readdirSync(join(box.dir, "plots")).filter((f) => f.endsWith(".svg"));
      expect(svgs.length).toBeGreaterThan(0);
      expect(svgs.map((f) => readFileSync(join(box.dir, "plots", f), "utf8")).join("")).toMatch(/lr/);
    },
  },

  // archive
  "slurm-poll --once --state .slurmpipe | log-parse | archive --name lr-sweep --format tar.gz --out archives": {
    exitCode: 1, // slurm-poll: a job failed (lr0.2), as the sweep says
    verify: (_r, box) => expect(existsSync(join(box.dir, "archives/lr-sweep-20250101T000000Z.tar.gz"))).toBe(true),
  },
  "archive --check-only runs.ndjson": {
    verify: (_r, box) => expect(readdirSync(join(box.dir, "archives"))).toEqual(["lr-sweep-20250101T000000Z.tar.gz"]),
  },
  "archive runs.ndjson --incremental --verify-after --prune-sources --out archives": {
    verify: (r) => {
      const summary = lines(r.stdout).find((x) => x.kind === "archive-summary")!;
      expect(summary.verified).toBe(true);
      expect(summary.pruned).toBeGreaterThan(0);
    },
  },
  "archive --verify archives/lr-sweep-20250101T000000Z.tar.gz": {
    verify: (r) => expect(r.stderr).toMatch(/verified|\bok\b/i),
  },
  "archive --restore archives/lr-sweep-20250101T000000Z --to restored --only 'runs/lr0.1/**/last.ckpt'": {
    verify: (_r, box) => {
      expect(existsSync(join(box.dir, "restored/runs/lr0.1/checkpoints/last.ckpt"))).toBe(true);
      expect(existsSync(join(box.dir, "restored/runs/lr0.2"))).toBe(false);
    },
  },
};
