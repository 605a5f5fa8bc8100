import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { repoRoot } from "../support/cli.ts";
import { requireCluster } from "../support/slurm.ts";
import { backends, cancelOwn, ensureBin, readRecords, scratch } from "./support/recipe.ts";
import { rerunCommands, shell, tableRow } from "./support/summary-pipeline.ts";

// Issue #14 item 8: the rerun commands STATUS.md prints are run as printed. Two runs fail for real
// (fixtures/trainer.py): one needs 300M and is rendered with `--mem 256M` on slurm-render's
// command line (a host OOM, MemoryError), one goes NaN (lr 0.1 with grad_clip_norm 1.0). The
// printed commands must reproduce that render (profile, --mem 256M, --out) with the suggested
// fix applied on top (more memory; lower lr and clipping), and resubmit both as attempt 2, which
// then complete.
const trainer = join(repoRoot, "test/e2e/fixtures/trainer.py");
const SWEEP = [
  'command: [python3, "{trainer}"]',
  "args: hydra",
  'name: "rr-{variant}_lr{lr}"',
  "params:",
  `  trainer: ${JSON.stringify(trainer)}`,
  "  max_steps: 20",
  "  step_time: 0.02",
  "  log_every: 2",
  "  stable_lr_clip: 0.05",
  "  lr: 0.1",
  "variants:",
  "  oom:",
  "    params: { need_mem: 300M }",
  "  nan:",
  "    params: { batch_norm: false, grad_clip_norm: 1.0 }",
  'resources: { nodes: 1, cpus_per_task: 1, time: "00:05:00" }',
  "",
].join("\n");

interface Run {
  kind: string;
  name: string;
  state: { state: string };
  job: { id: string; attempt: number; name: string };
  script: { path: string; rendered_with?: { args: string[] } };
  report?: { failures?: { class: string }[] };
}
const runs = (file: string) => new Map((readRecords(file).filter((r) => r.kind === "run") as unknown as Run[]).map((r) => [r.name, r]));

for (const backend of backends()) {
  backend.describe(`summary-md rerun commands, run as printed (${backend.name})`, () => {
    const s = scratch(`summary-rerun-${backend.name}`);
    const env = { ...s.env, B: backend.name };
    const sh = (script: string) => shell(script, s.dir, env);
    const file = (name: string) => join(s.dir, name);
    const poll = (out: string) => sh(`{ slurm-poll --backend "$B" --interval 1s < /dev/null || [ $? -eq 1 ]; } | log-parse > ${out}`);

    beforeAll(async () => {
      if (backend.name === "slurm") requireCluster();
      await ensureBin();
      writeFileSync(file("sweep.yaml"), SWEEP);
    });
    afterAll(async () => {
      await cancelOwn(file(".slurmpipe"), backend.name, s.env.SLURMPIPE_LOCAL_DIR);
      s.cleanup();
    });

    it("two runs fail for real: a host OOM under the render flag --mem 256M, a NaN loss", async () => {
      await sh(
        [
          "sweep-gen sweep.yaml > runs.ndjson",
          "slurm-render --profile local --mem 256M --out runs/ runs.ndjson > rendered.ndjson",
          'slurm-submit --backend "$B" rendered.ndjson > submitted.ndjson',
        ].join("\n"),
      );
      // How slurm-render recorded its flags (in its own spelling: --mem=256M or --mem 256M).
      for (const run of runs(file("rendered.ndjson")).values()) {
        const args = run.script.rendered_with?.args.join(" ") ?? "";
        expect(args, run.name).toMatch(/--profile[= ]local\b/);
        expect(args, run.name).toMatch(/--mem[= ]256M\b/);
        expect(args, run.name).toMatch(/--out[= ]\S*runs\/?(\s|$)/);
      }
      await poll("parsed.ndjson");
      const parsed = runs(file("parsed.ndjson"));
      expect(parsed.get("rr-oom_lr0.1")?.report?.failures?.[0]?.class).toBe("HOST_OOM");
      expect(parsed.get("rr-nan_lr0.1")?.report?.failures?.[0]?.class).toBe("NAN_LOSS");
    });

    it("the printed rerun commands resubmit both as attempt 2 with the suggested change applied over the render flags", async () => {
      await sh("summary-md --expected runs.ndjson --no-plots -o STATUS.md parsed.ndjson");
      const status = readFileSync(file("STATUS.md"), "utf8");
      const commands = rerunCommands(status);
      expect(commands, status).toHaveLength(2);
      for (const command of commands) {
        // The render as it was (profile, --mem 256M, --out), then for the OOM run the suggested memory after it.
        expect(command).toMatch(/\| slurm-render (?=.*--profile[= ]local\b)(?=.*--mem[= ]256M\b)(?=.*--out[= ])/);
        expect(command).toContain(`slurm-submit${backend.name === "local" ? " --backend local" : ""} --resubmit failed`);
      }
      expect(commands.filter((c) => /--mem[= ]256M\b.* --mem \d+M \| slurm-submit/.test(c)), commands.join("\n")).toHaveLength(1);
      expect(status).not.toContain("render flags of these runs are unknown");
      // As a person would: each command pasted into a shell in the directory of the sweep.
      for (const [i, command] of commands.entries()) await sh(`${command} > rerun-${i}.ndjson`);

      const resubmitted = new Map([...runs(file("rerun-0.ndjson")), ...runs(file("rerun-1.ndjson"))]);
      expect([...resubmitted.keys()].sort()).toEqual(["rr-nan_lr0.1", "rr-oom_lr0.1"]);
      for (const [name, run] of resubmitted) {
        expect(run.job.attempt, name).toBe(2);
        expect(run.job.name, name).toMatch(/r2$/);
      }
      const oomScript = readFileSync(resubmitted.get("rr-oom_lr0.1")!.script.path, "utf8");
      const mem = /^#SBATCH --mem=(\d+)M$/m.exec(oomScript);
      expect(Number(mem?.[1]), oomScript).toBeGreaterThan(300); // the suggested memory, not the 256M render flag
      const nanScript = readFileSync(resubmitted.get("rr-nan_lr0.1")!.script.path, "utf8");
      expect(nanScript).toMatch(/ grad_clip_norm=0\.5 /);
      expect(nanScript).toMatch(/ lr=0\.05 /);
      expect(nanScript).not.toMatch(/ lr=0\.1 /);
    });

    it("the resubmitted attempts complete, and the report says the NaN run ran with other parameters than the sweep's", async () => {
      await poll("final.ndjson");
      const final = runs(file("final.ndjson"));
      for (const name of ["rr-oom_lr0.1", "rr-nan_lr0.1"]) {
        expect(final.get(name)?.state.state, name).toBe("COMPLETED");
        expect(final.get(name)?.job.attempt, name).toBe(2);
      }
      await sh("summary-md --expected runs.ndjson --no-plots -o STATUS.md final.ndjson");
      const status = readFileSync(file("STATUS.md"), "utf8");
      expect(status).toMatch(/^\*\*2 of 2 completed \(100%\)\*\*/m);
      expect(tableRow(status, "rr-nan_lr0.1")?.join(" | ")).toContain("attempt 2, ran with grad_clip_norm=0.5 (sweep: 1), lr=0.05 (sweep: 0.1)");
      expect(status).toContain("- Ran with parameters other than the sweep's (1):");
    });
  });
}
