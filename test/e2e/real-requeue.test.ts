// Checkpoint, requeue, resume on the real trainers (examples/real/), rendered with
// --requeue-on-signal: the warning signal reaches the trainer before the time limit, the framework
// saves a checkpoint its own way (torch.save; Lightning's trainer.save_checkpoint; the HF Trainer's
// should_save), the job requeues itself, and the second segment resumes through the framework's
// own path (Lightning fit(ckpt_path=...), HF train(resume_from_checkpoint=...)) and finishes.
// On the local backend, which keeps time limits in seconds. (On the real Slurm a time limit is whole
// minutes, the warning may come up to a minute early and a requeued job waits before it starts
// again: minutes a run. There a requeued job is followed to its end by test/integration/slurm-poll.)
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { repoRoot } from "../support/cli.ts";
import { backends, cancelOwn, ensureBin, readRecords, scratch } from "./support/recipe.ts";

const real = join(repoRoot, "examples/real");
let python = "";

beforeAll(async () => {
  python = String((await execa("bash", [join(repoRoot, "scripts/real-venv")])).stdout).trim();
  await ensureBin();
}, 600_000);

// 60 steps of 0.5 s: longer than the time before the warning, so the first segment is cut short.
const TRAINERS: Record<string, string> = {
  plain_loop: "epochs: 1, steps_per_epoch: 60",
  lightning_module: "max_epochs: 1, batches: 60",
  hf_trainer: "max_steps: 60, save_every: 1000",
};

for (const backend of backends().filter((b) => b.name === "local")) {
  backend.describe(`real trainers, requeued on the warning signal (${backend.name})`, () => {
    const s = scratch(`real-requeue-${backend.name}`);
    afterAll(async () => {
      for (const t of Object.keys(TRAINERS)) await cancelOwn(join(s.dir, t, "st"), backend.name, s.env.SLURMPIPE_LOCAL_DIR);
      s.cleanup();
    });
    for (const trainer of Object.keys(TRAINERS)) {
      it(`${trainer}: checkpoints on the signal, requeues, resumes where it stopped and completes; log-parse reads both segments`, async () => {
        const dir = join(s.dir, trainer);
        mkdirSync(dir, { recursive: true });
        // 50 s with the warning 25 s before; a segment that still runs at its warning checkpoints
        // and requeues again.
        const [time, warn] = ["00:00:50", 25];
        const sweep = [
          `command: [${JSON.stringify(python)}, ${JSON.stringify(join(real, `${trainer}.py`))}]`,
          "args: hydra",
          `name: "rq-${trainer}"`,
          `params: { ${TRAINERS[trainer]}, fail: slow, fail_at: 0, step_time: 0.5, log_every: 5 }`,
          `resources: { time: "${time}", mem: 2G }`,
          "",
        ].join("\n");
        writeFileSync(join(dir, "sweep.yaml"), sweep);
        const env = { ...s.env, HOME: dir, PATH: `${join(repoRoot, "examples/bin")}:${process.env.PATH}` };
        const be = "--backend local";
        const sh = (command: string) => execa("bash", ["-c", `set -euo pipefail; ${command}`], { cwd: dir, env, reject: false, timeout: 400_000 });
        const r = await sh(
          `sweep-gen sweep.yaml | slurm-render --profile local --requeue-on-signal ${warn} | slurm-submit ${be} --state st | slurm-poll ${be} --state st --interval 2s | log-parse > parsed.ndjson`,
        );
        expect(r.exitCode, r.stderr.slice(-3000)).toBe(0);
        const [run] = readRecords(join(dir, "parsed.ndjson")).filter((x) => x.kind === "run") as {
          job: { id: string };
          state: { state: string; exit_code: string; restarts?: number };
          logs: { stdout: string; stderr: string };
          report: { failures: unknown[]; series: { loss: { step: number }[] } };
        }[];
        expect(run!.state).toMatchObject({ state: "COMPLETED", exit_code: "0:0" });
        const stdout = readFileSync(run!.logs.stdout.replace("%j", run!.job.id), "utf8");
        const stderr = readFileSync(run!.logs.stderr.replace("%j", run!.job.id), "utf8");
        // Both segments in the one appended log: the signal and checkpoint, then the resume.
        expect(stdout).toMatch(/received SIGTERM: checkpointing[\s\S]*(resumed from|resuming from)[\s\S]*Finished Training/);
        expect(stderr).toMatch(/DUE TO JOB REQUEUE/);
        expect(run!.state.restarts ?? 0).toBeGreaterThanOrEqual(1);
        expect(stderr).not.toMatch(/DUE TO TIME LIMIT/);
        expect(run!.report.failures).toEqual([]);
        // The series reaches the last step; the resume started past the first step.
        const steps = run!.report.series.loss.map((p) => p.step);
        expect(Math.max(...steps)).toBeGreaterThanOrEqual(55);
        const resumedAt = /resumed from \S+ at step (\d+)|resuming from \S*checkpoint-(\d+)|resuming from \S+last\.ckpt/.exec(stdout);
        expect(resumedAt, stdout.slice(-2000)).not.toBeNull();
        if (resumedAt![1] ?? resumedAt![2]) expect(Number(resumedAt![1] ?? resumedAt![2])).toBeGreaterThan(0);
      }, 420_000);
    }
  });
}
