import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { records, runCli } from "../support/cli.ts";
import { describeSlurm, requireCluster, waitForJobs } from "../support/slurm.ts";

// Issue #14 items 7-9 through the built slurm-render: the recovery loop as summary-md prints it,
// `slurm-render <script.rendered_with.args...> --mem 38G`, must render what it says, say when a
// flag replaces what a record carries, and never rewrite a script or table a queued job still uses.

interface Script {
  path: string;
  sha256: string;
  rendered_with: { profile: string; args: string[] };
  array?: { table: string; index: number };
}
const scriptOf = (r: Record<string, unknown>) => r.script as Script;
const ndjson = (list: Record<string, unknown>[]) => `${list.map((r) => JSON.stringify(r)).join("\n")}\n`;
const run = (name: string, command: string[], extra: Record<string, unknown> = {}) => ({ id: `id-${name}`, name, command, ...extra });

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "sp-render-rerun-"));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function render(args: string[], input: Record<string, unknown>[] | string, cwd: string) {
  const r = await runCli("slurm-render", args, { input: typeof input === "string" ? input : ndjson(input), cwd });
  return { exitCode: r.exitCode, stderr: String(r.stderr), out: records(r.stdout) };
}

describe("slurm-render: command-line flags vs the record's resources (item 7)", () => {
  it("a suggested fix applied with jq (resources.mem) and the render flags: the last flag wins, and a replaced value is said on stderr", async () => {
    const cwd = tempDir();
    const oom = [run("oom1", ["python3", "t.py"], { resources: { mem: "38G" } }), run("oom2", ["python3", "t.py"], { resources: { mem: "40G" } }), run("ok", ["python3", "t.py"])];

    const appended = await render(["--profile", "generic", "--mem", "512M", "--mem", "38G"], oom.slice(0, 1), cwd);
    expect(appended.exitCode).toBe(0);
    expect(readFileSync(scriptOf(appended.out[0]!).path, "utf8")).toMatch(/^#SBATCH --mem=38G$/m);
    expect(appended.stderr).not.toMatch(/replaced/);

    const cancelled = await render(["--profile", "generic", "--out", "g", "--mem", "38G", "--mem", "512M"], oom, cwd);
    expect(cancelled.exitCode).toBe(0);
    for (const r of cancelled.out) expect(readFileSync(scriptOf(r).path, "utf8")).toMatch(/^#SBATCH --mem=512M$/m);
    const warnings = cancelled.stderr.split("\n").filter((l) => /replaced/.test(l));
    expect(warnings).toEqual([
      "slurm-render: warning: --mem 512M replaced resources.mem of 2 record(s) that had another value (e.g. run oom1: 38G); command-line flags win over the record's resources",
    ]);
  });

  it("every resources key has its flag, and the last of a repeated one wins", async () => {
    const cwd = tempDir();
    const flags: [string, string, string][] = [
      ["--account", "a1", "a2"],
      ["--partition", "p1", "debug"],
      ["--qos", "q1", "q2"],
      ["--reservation", "r1", "r2"],
      ["--nodes", "3", "1"],
      ["--ntasks", "3", "2"],
      ["--ntasks-per-node", "3", "2"],
      ["--gpus", "3", "gpu:1"],
      ["--gpus-per-node", "3", "1"],
      ["--gpus-per-task", "3", "1"],
      ["--gres", "gpu:3", "gpu:1"],
      ["--cpus-per-task", "3", "2"],
      ["--cpus-per-gpu", "3", "2"],
      ["--mem", "3G", "2G"],
      ["--mem-per-cpu", "3G", "2G"],
      ["--mem-per-gpu", "3G", "2G"],
      ["--time", "03:00:00", "00:10:00"],
      ["--constraint", "c1", "c2"],
      ["--exclude", "n1", "n2"],
      ["--nodelist", "n3", "localhost"],
    ];
    // sbatch takes one of --mem, --mem-per-cpu, --mem-per-gpu (the renderer keeps one): each is rendered on its own.
    const memory = new Set(["--mem", "--mem-per-cpu", "--mem-per-gpu"]);
    const textFor = async (flag: string) => {
      const shown = flags.filter(([f]) => !memory.has(f) || f === flag);
      const r = await render(["--profile", "generic", ...shown.flatMap(([f, first, last]) => [f, first, f, last])], [run(`all${memory.has(flag) ? flag.replace(/-/g, "_") : ""}`, ["true"])], cwd);
      expect(r.exitCode, r.stderr).toBe(0);
      return readFileSync(scriptOf(r.out[0]!).path, "utf8");
    };
    for (const [flag, first, last] of flags) {
      const text = await textFor(flag);
      expect(text, flag).toContain(`#SBATCH ${flag}=${last}\n`);
      expect(text, flag).not.toContain(`#SBATCH ${flag}=${first}\n`);
    }
  });
});

describe("slurm-render: script.rendered_with renders the same scripts again (item 8)", () => {
  it("`slurm-render <rendered_with.args> FILE` from another directory writes byte-identical scripts", async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, "site.yaml"), "extends: lumi\nresources: {partition: small-g}\n");
    const input = [run("a", ["python3", "train.py", "lr=0.1"], { group: "g" }), run("b", ["python3", "train.py", "lr=0.2", "note=it's $(x)"], { group: "g" })];
    writeFileSync(join(cwd, "runs.ndjson"), ndjson(input));
    const flags = [
      "--profile=./site.yaml",
      "--account",
      "project_465000123",
      "--container",
      "/appl/local/laifs/containers/lumi-multitorch-latest.sif",
      "--venv",
      "/scratch/project_465000123/venv",
      "--out",
      "rel/out",
      "--mem",
      "12G",
      "--time=01:00:00",
      "--gpus-per-node",
      "2",
      "--env",
      "A=x y",
      "--setup",
      "ulimit -c 0",
      "--directive=--exclusive",
      "--requeue-on-signal",
      "600",
    ];
    for (const mode of [[], ["--array", "--array-limit", "1"]]) {
      const first = await render([...flags, ...mode, "runs.ndjson"], "", cwd);
      expect(first.exitCode, first.stderr).toBe(0);
      const how = scriptOf(first.out[0]!).rendered_with;
      expect(how.profile).toBe(join(cwd, "site.yaml"));
      expect(how.args).toContain(`--out=${join(cwd, "rel/out")}`);
      expect(how.args).toContain("--account=project_465000123");
      expect(how.args).toContain("--venv=/scratch/project_465000123/venv");
      expect(how.args).not.toContain("runs.ndjson");
      const texts = first.out.map((r) => readFileSync(scriptOf(r).path, "utf8"));
      const tables = first.out.map((r) => (scriptOf(r).array ? readFileSync(scriptOf(r).array!.table, "utf8") : ""));
      // The scripts are gone; the printed command, run from elsewhere, writes them again byte for byte.
      rmSync(join(cwd, "rel"), { recursive: true });
      const elsewhere = tempDir();
      copyFileSync(join(cwd, "runs.ndjson"), join(elsewhere, "runs.ndjson"));
      const again = await render([...how.args, "runs.ndjson"], "", elsewhere);
      expect(again.exitCode, again.stderr).toBe(0);
      expect(again.out).toEqual(first.out);
      expect(again.out.map((r) => readFileSync(scriptOf(r).path, "utf8"))).toEqual(texts);
      expect(again.out.map((r) => (scriptOf(r).array ? readFileSync(scriptOf(r).array!.table, "utf8") : ""))).toEqual(tables);
    }
  });

  it("the rerun as summary-md prints it: rendered_with.args plus --mem 38G on the failed record", async () => {
    const cwd = tempDir();
    const first = await render(["--profile", "generic", "--mem", "512M"], [run("oom", ["python3", "t.py"])], cwd);
    const failed = { ...first.out[0]!, resources: { ...(first.out[0]!.resources as object), mem: "38G" } };
    const rerun = await render([...scriptOf(first.out[0]!).rendered_with.args, "--mem", "38G"], [failed], cwd);
    expect(rerun.exitCode, rerun.stderr).toBe(0);
    expect(rerun.stderr).not.toMatch(/replaced/);
    expect(readFileSync(scriptOf(rerun.out[0]!).path, "utf8")).toMatch(/^#SBATCH --mem=38G$/m);
    expect(scriptOf(rerun.out[0]!).rendered_with.args).toContain("--mem=38G");
    expect(readFileSync(scriptOf(first.out[0]!).path, "utf8")).toMatch(/^#SBATCH --mem=512M$/m);
  });
});

describe("slurm-render: a rendered script is never rewritten (item 9)", () => {
  it("render, change a param, render again: the old file is unchanged, the new one separate, the record points to it", async () => {
    const cwd = tempDir();
    const first = await render(["--profile", "local"], [run("r", ["python3", "train.py", "lr=0.1"])], cwd);
    const old = scriptOf(first.out[0]!);
    const oldText = readFileSync(old.path, "utf8");
    const changed = { ...first.out[0]!, params: { lr: 0.05 }, command: ["python3", "train.py", "lr=0.05"] };
    const second = await render(["--profile", "local"], [changed], cwd);
    const now = scriptOf(second.out[0]!);
    expect(now.path).toBe(join(cwd, "runs/r", `job.${now.sha256.slice(0, 8)}.sbatch`));
    expect(readFileSync(old.path, "utf8")).toBe(oldText);
    expect(readFileSync(now.path, "utf8")).toMatch(/ lr=0\.05$/m);
    expect(readdirSync(join(cwd, "runs/r")).filter((f) => f.endsWith(".sbatch"))).toHaveLength(2);
  });
});

describeSlurm("slurm-render on a real Slurm: a queued array job runs the table it was rendered with (item 9)", () => {
  const submitted: string[] = [];
  afterAll(async () => {
    if (submitted.length > 0) await execa("scancel", submitted, { reject: false });
  });

  it("an array held in the queue, its sweep re-rendered with a change, then released: every task runs its recorded arguments", async () => {
    requireCluster();
    const cwd = tempDir();
    mkdirSync(join(cwd, "work"));
    const input = [0, 1].map((i) => run(`t${i}`, ["echo", `value=${i}`], { group: "held", dir: join(cwd, "work", `t${i}`), resources: { time: "00:02:00" } }));
    const first = await render(["--profile", "local", "--array"], input, cwd);
    expect(first.exitCode, first.stderr).toBe(0);
    const old = scriptOf(first.out[0]!);
    const sb = await execa("sbatch", ["--parsable", "--hold", old.path], { cwd });
    const jobId = sb.stdout.trim().split(";")[0]!;
    submitted.push(jobId);

    const changed = input.map((r, i) => ({ ...r, command: ["echo", `value=${i + 10}`] }));
    const second = await render(["--profile", "local", "--array"], changed, cwd);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(scriptOf(second.out[0]!).array!.table).not.toBe(old.array!.table);

    await execa("scontrol", ["release", jobId]);
    const states = await waitForJobs([`${jobId}_0`, `${jobId}_1`]);
    expect([...states.values()]).toEqual(["COMPLETED", "COMPLETED"]);
    const logs = join(old.path, "..", "logs");
    expect(readFileSync(join(logs, `${jobId}_0.out`), "utf8")).toBe("value=0\n");
    expect(readFileSync(join(logs, `${jobId}_1.out`), "utf8")).toBe("value=1\n");
  });
});
