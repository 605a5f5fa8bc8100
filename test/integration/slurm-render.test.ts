import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, expect, it } from "vitest";
import { cliPath, records, repoRoot, runCli } from "../support/cli.ts";
import { describeSlurm, requireCluster, waitForJobs } from "../support/slurm.ts";

// slurm-render against the real local Slurm: hostile parameter values must reach the job's argv
// byte for byte, and rendered scripts (single, array, the 216-run Tier-3 sweep) must be accepted.

const work = mkdtempSync(join(tmpdir(), "sp-render-it-"));
const pwned = join(work, "pwned");
const dumpArgv = join(work, "dump-argv.sh");
writeFileSync(dumpArgv, '#!/bin/bash\nout="$1"\nshift\nprintf \'%s\\0\' "$@" > "$out"\n', { mode: 0o755 });
const submitted: string[] = [];

afterAll(async () => {
  // Only our own jobs, by id (the requeue test leaves one pending on purpose).
  if (submitted.length > 0) await execa("scancel", submitted, { reject: false });
});

const HOSTILE = [
  `$(touch ${pwned})`,
  `\`touch ${pwned}\``,
  "it's a \"quote\"",
  "a; touch x; b",
  "line1\nline2\n",
  "  spaces  inside  ",
  "#not a comment",
  "back\\slash \\n",
  "unicode ☃ ü 日本",
  "",
  "$HOME $" + "{PATH} %j %x",
];

function runRecord(name: string, values: string[], extra: Record<string, unknown> = {}) {
  const id = `${Buffer.from(name).toString("hex")}000000000000`.slice(0, 12);
  return { id, name, params: { v: values }, command: [dumpArgv, join(work, `${name}.argv`), ...values], ...extra };
}

function ndjson(list: object[]): string {
  return `${list.map((r) => JSON.stringify(r)).join("\n")}\n`;
}

async function sbatch(script: string): Promise<string> {
  const r = await execa("sbatch", ["--parsable", script], { reject: false });
  expect(r.exitCode, String(r.stderr)).toBe(0);
  const id = String(r.stdout).trim().split(";")[0]!;
  submitted.push(id);
  return id;
}

function expectedArgv(values: string[]): Buffer {
  return Buffer.concat(values.map((v) => Buffer.from(`${v}\0`, "utf8")));
}

describeSlurm("slurm-render on the local Slurm", () => {
  it("hostile parameter values reach the job's argv byte for byte, one script per run", async () => {
    requireCluster();
    const runs = HOSTILE.map((v, i) => runRecord(`sp-render-inj${i}`, [v, `k=${v}`]));
    runs.push(runRecord("sp-render-injall", HOSTILE));
    const r = await runCli("slurm-render", ["--profile", "local", "--out", join(work, "runs"), "--check"], { input: ndjson(runs), cwd: work });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const out = records(r.stdout);
    expect(out).toHaveLength(runs.length);
    const ids = await Promise.all(out.map((rec) => sbatch((rec.script as { path: string }).path)));
    const states = await waitForJobs(ids);
    for (const [i, rec] of out.entries()) {
      expect(states.get(ids[i]!), `job ${ids[i]} (${rec.name})`).toBe("COMPLETED");
      const seen = readFileSync(join(work, `${rec.name}.argv`));
      const want = expectedArgv(runs[i]!.command.slice(2));
      expect(seen.equals(want), `${rec.name}: argv differs`).toBe(true);
      // the log path pattern in the record is where sbatch put the job's output
      const log = (rec.logs as { stdout: string }).stdout.replace("%j", ids[i]!);
      expect(existsSync(log), log).toBe(true);
    }
    expect(existsSync(pwned)).toBe(false);
  });

  it("sbatch --test-only accepts a rendered script", async () => {
    requireCluster();
    const r = await runCli("slurm-render", ["--profile", "local", "--out", join(work, "runs-t")], { input: ndjson([runRecord("sp-render-testonly", ["x"])]), cwd: work });
    const path = (records(r.stdout)[0]!.script as { path: string }).path;
    const t = await execa("sbatch", ["--test-only", path], { reject: false });
    expect(t.exitCode, String(t.stderr)).toBe(0);
    expect(String(t.stderr)).toMatch(/to start at/);
  });

  it("an --array script runs every task with its own argv", async () => {
    requireCluster();
    const runs = [0, 1, 2, 3].map((i) => runRecord(`sp-render-arr${i}`, [HOSTILE[i]!, `task=${i}`, HOSTILE[(i + 4) % HOSTILE.length]!], { group: "sp-render-it" }));
    const r = await runCli("slurm-render", ["--profile", "local", "--out", join(work, "runs-a"), "--array", "--array-limit", "2", "--check"], { input: ndjson(runs), cwd: work });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const out = records(r.stdout);
    const scripts = new Set(out.map((rec) => (rec.script as { path: string }).path));
    expect(scripts.size).toBe(1);
    expect(out.map((rec) => (rec.script as { array: { index: number } }).array.index)).toEqual([0, 1, 2, 3]);
    const arrayId = await sbatch([...scripts][0]!);
    // sacct -X -j <array id> lists the tasks as <id>_<n>
    const tasks = await waitForJobs([0, 1, 2, 3].map((i) => `${arrayId}_${i}`));
    for (const [i, run] of runs.entries()) {
      expect(tasks.get(`${arrayId}_${i}`)).toBe("COMPLETED");
      expect(readFileSync(join(work, `${run.name}.argv`)).equals(expectedArgv(run.command.slice(2))), `task ${i}`).toBe(true);
    }
    expect(existsSync(pwned)).toBe(false);
  });

  it("the Tier-3 sweep (216 runs) renders with --profile local; bash -n on all, sbatch --test-only on a sample", async () => {
    requireCluster();
    const tier3 = join(repoRoot, "examples/tier3.yaml");
    let input: string;
    if (existsSync(tier3) && existsSync(cliPath("sweep-gen"))) {
      const gen = await runCli("sweep-gen", [tier3], { cwd: repoRoot });
      expect(gen.exitCode, String(gen.stderr)).toBe(0);
      input = String(gen.stdout);
    } else {
      // sweep-gen's example is not there yet: the same grid, built here.
      const list: object[] = [];
      for (const variant of ["S-core", "S-adamw", "S-bn-off", "S-narrow"])
        for (const lr of [0.05, 0.1, 0.2])
          for (const wd of [1e-4, 1e-3, 1e-2])
            for (let seed = 0; seed < 6; seed++) {
              const name = `${variant}_lr${lr}_wd${wd}_s${seed}`;
              list.push({ id: Buffer.from(name).toString("hex").slice(-12), name, variant, params: { lr, wd, seed }, command: ["python", "train.py", `variant=${variant}`, `lr=${lr}`, `wd=${wd}`, `seed=${seed}`] });
            }
      input = ndjson(list);
    }
    const out = join(work, "tier3");
    const r = await runCli("slurm-render", ["--profile", "local", "--out", out, "--check"], { input, cwd: repoRoot });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const rendered = records(r.stdout);
    expect(rendered).toHaveLength(216);
    const paths = rendered.map((rec) => (rec.script as { path: string }).path);
    expect(new Set(paths).size).toBe(216);
    const sample = paths.filter((_, i) => i % 22 === 0);
    for (const path of sample) {
      const t = await execa("sbatch", ["--test-only", path], { reject: false });
      expect(t.exitCode, `${path}: ${t.stderr}`).toBe(0);
    }
  });

  it("--requeue-on-signal: the warning reaches the training process, which checkpoints, and the job requeues itself", async () => {
    requireCluster();
    const marker = join(work, "requeue-marker");
    const trainer = join(work, "trainer.sh");
    writeFileSync(trainer, `#!/bin/bash\ntrap 'echo "checkpoint at restart \${SLURM_RESTART_COUNT:-0}" >> ${JSON.stringify(marker)}; exit 0' TERM\nwhile :; do sleep 0.2; done\n`, { mode: 0o755 });
    const rec = { id: "5e9ae5e9ae5e", name: "sp-render-requeue", command: [trainer], resources: { time: "00:01:00" } };
    const r = await runCli("slurm-render", ["--profile", "local", "--out", join(work, "runs-q"), "--requeue-on-signal", "55"], { input: ndjson([rec]), cwd: work });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const id = await sbatch((records(r.stdout)[0]!.script as { path: string }).path);
    const deadline = Date.now() + 90_000;
    let restarts = 0;
    while (Date.now() < deadline) {
      const show = await execa("scontrol", ["show", "job", id], { reject: false });
      restarts = Number(/Restarts=(\d+)/.exec(String(show.stdout))?.[1] ?? 0);
      if (restarts >= 1 && existsSync(marker)) break;
      await new Promise((res) => setTimeout(res, 1000));
    }
    expect(restarts).toBeGreaterThanOrEqual(1);
    expect(readFileSync(marker, "utf8")).toContain("checkpoint at restart 0");
  });
});
