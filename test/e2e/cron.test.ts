import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { repoRoot } from "../support/cli.ts";
import { requireCluster } from "../support/slurm.ts";
import { RUNS, addRun, createExperiment, fineTuningTable } from "./support/experiment.ts";
import { backends, cancelOwn, ensureBin, ledgerEntries, loadRecipe, scratch } from "./support/recipe.ts";

// The crontab line of examples/crontab, run by /bin/sh in cron's bare environment, tick after tick
// while the jobs progress, on both backends.
const crontab = readFileSync(join(repoRoot, "examples/crontab"), "utf8");

/** Cron's view of a crontab: NAME=value lines and the first schedule line's command. */
function parseCrontab(text: string): { env: Record<string, string>; command: string } {
  const env: Record<string, string> = {};
  let command: string | undefined;
  for (const line of text.split("\n")) {
    if (/^\s*(#|$)/.test(line)) continue;
    const assign = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (assign) env[assign[1]!] = assign[2]!;
    else command ??= /^\s*(?:\S+\s+){5}(.*)$/.exec(line)?.[1];
  }
  if (!command) throw new Error("examples/crontab: no schedule line");
  return { env, command };
}

const { env: cronEnv, command } = parseCrontab(crontab);

/** Run names of the ledger's submissions (job names are `<run name>.sp<id>[r<attempt>]`). */
const submittedNames = (exp: string) => ledgerEntries(join(exp, ".slurmpipe"), "submitted").map((e) => String(e.job_name).replace(/\.sp[0-9a-f]+(r\d+)?$/, ""));

it("examples/crontab: a five-field schedule every few minutes, flock, absolute paths, output to a log, no %", () => {
  expect(crontab).toMatch(/^\*\/5 \* \* \* \* /m);
  expect(command).toMatch(/^cd "\$EXP" && flock -n "\$EXP\/\.cron\.lock" sh -c '/);
  expect(command).toMatch(/slurm-poll --backend "\$BACKEND" --once .*\| summary-md --update experiment_summary\.md'/);
  expect(command).toMatch(/>> "\$EXP\/cron\.log" 2>&1$/);
  expect(command).not.toContain("%");
  for (const key of ["PATH", "EXP"]) expect(cronEnv[key]!.split(":").every((p) => p.startsWith("/")), key).toBe(true);
  // The recipe shows the same command.
  expect(loadRecipe("cron").steps.get("tick")!.trim()).toBe(command);
});

for (const backend of backends()) {
  backend.describe(`cron recipe (${backend.name})`, () => {
    const s = scratch(`cron-${backend.name}`);
    let exp = "";
    let python = "";
    let env: Record<string, string> = {};
    const tick = () => execa("/bin/sh", ["-c", command], { env, extendEnv: false, cwd: s.dir, reject: false, timeout: 120_000 });
    const table = () => fineTuningTable(readFileSync(join(exp, "experiment_summary.md"), "utf8"));

    beforeAll(async () => {
      if (backend.name === "slurm") requireCluster();
      await ensureBin();
      python = (await execa("python3", ["-c", "import sys; print(sys.executable)"])).stdout.trim();
      exp = createExperiment(s.dir, RUNS, python);
      const sbatch = (await execa("sh", ["-c", "command -v sbatch || true"])).stdout.trim();
      const path = [join(repoRoot, "examples/bin"), dirname(process.execPath), dirname(python), ...(sbatch ? [dirname(sbatch)] : []), "/usr/bin", "/bin"];
      env = { ...cronEnv, PATH: path.join(":"), EXP: exp, BACKEND: backend.name, STAGGER: "1s", HOME: s.dir, SLURMPIPE_LOCAL_DIR: s.env.SLURMPIPE_LOCAL_DIR! };
    });
    afterAll(async () => {
      await cancelOwn(join(exp, ".slurmpipe"), backend.name, s.env.SLURMPIPE_LOCAL_DIR);
      s.cleanup();
    });

    it("tick after tick the summary converges to all COMPLETED, a run added later is picked up, nothing is submitted twice", async () => {
      const late = { name: "rank16_lr5e-5", lr: "5e-5" };
      const seen: string[][] = [];
      let done = false;
      for (let i = 0; i < 60 && !done; i++) {
        const r = await tick();
        expect(r.exitCode, `tick ${i}: ${r.stderr}`).toBe(0);
        const rows = table();
        seen.push([...rows.values()].map((cells) => cells[0]!));
        if (i === 1) addRun(exp, late, python);
        done = i > 1 && rows.size === 4 && [...rows.values()].every((cells) => cells[0] === "COMPLETED");
        if (!done) await new Promise((res) => setTimeout(res, 1000));
      }
      expect(done, `statuses per tick: ${JSON.stringify(seen)}`).toBe(true);
      // The first tick saw the runs submitted but not finished.
      expect(seen[0]!.some((status) => status !== "COMPLETED")).toBe(true);

      const rows = table();
      const submitted = ledgerEntries(join(exp, ".slurmpipe"), "submitted");
      expect(submittedNames(exp).sort()).toEqual([...RUNS.map((r) => r.name), late.name].sort());
      for (const [name, cells] of rows) expect(cells[1], name).toBe(String(submitted[submittedNames(exp).indexOf(name)]!.job_id));

      const log = readFileSync(join(exp, "cron.log"), "utf8");
      expect(log).toMatch(/slurm-submit: 3 submitted/);
      expect(log).toMatch(/slurm-submit: 1 submitted, 0 resubmitted, 0 reconciled, 3 already submitted/);
      expect(readFileSync(join(exp, "run-torchtune.log"), "utf8")).toMatch(/STATE_CHANGE: rank16_lr5e-5/);

      // Once more after the end: nothing new is submitted and the document is not rewritten.
      const text = readFileSync(join(exp, "experiment_summary.md"), "utf8");
      expect((await tick()).exitCode).toBe(0);
      expect(ledgerEntries(join(exp, ".slurmpipe"), "submitted")).toHaveLength(4);
      expect(readFileSync(join(exp, "experiment_summary.md"), "utf8")).toBe(text);
    });

    it("a tick that finds the previous one still running exits at once and changes nothing", async () => {
      const lock = join(exp, ".cron.lock");
      expect(existsSync(lock)).toBe(true);
      addRun(exp, { name: "rank32_lr1e-5", lr: "1e-5" }, python);
      const holder = execa("flock", [lock, "sleep", "5"], { reject: false });
      await new Promise((res) => setTimeout(res, 300));
      const logBefore = readFileSync(join(exp, "cron.log"), "utf8");
      const started = Date.now();
      const r = await tick();
      expect(r.exitCode).toBe(1);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(ledgerEntries(join(exp, ".slurmpipe"), "submitted")).toHaveLength(4);
      expect(readFileSync(join(exp, "cron.log"), "utf8")).toBe(logBefore);
      await holder;
      // With the lock free again, the next tick submits the new run (and only it).
      expect((await tick()).exitCode).toBe(0);
      expect(submittedNames(exp)).toContain("rank32_lr1e-5");
      expect(ledgerEntries(join(exp, ".slurmpipe"), "submitted")).toHaveLength(5);
    });
  });
}
