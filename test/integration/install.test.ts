// The release artifacts (`pnpm release:build`), installed the way a user installs them, into an
// empty prefix outside the repository with no node_modules anywhere above it, and PATH reduced to
// that prefix + /usr/bin:/bin (+ Slurm's bin dir): the single executable (from its tarball) and the
// npm package (`npm i -g` of the packed tarball). Each runs docs/recipes/sample-run.md on the local
// backend and on the real Slurm. The artifacts are built once, in beforeAll (the SEA takes ~20 s).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../support/cli.ts";
import { describeSlurm, requireCluster } from "../support/slurm.ts";
import { cancelOwn, loadRecipe, readRecords } from "../e2e/support/recipe.ts";

const COMMANDS = ["sweep-gen", "slurm-render", "slurm-submit", "slurm-poll", "log-parse", "summary-md", "archive"];
const recipe = loadRecipe("sample-run");
const trainer = join(repoRoot, "test/e2e/fixtures/trainer.py");
const root = mkdtempSync(join(tmpdir(), "sp-install-"));
const releaseDir = join(root, "release");
const slurmBin = await execa("sh", ["-c", "command -v sbatch"], { reject: false }).then((r) => (r.exitCode === 0 ? dirname(String(r.stdout).trim()) : undefined));

interface Installed {
  bin: string;
}
const installs: Record<"sea" | "npm", Installed> = { sea: { bin: join(root, "sea/bin") }, npm: { bin: join(root, "npm/bin") } };

beforeAll(async () => {
  const built = await execa(process.execPath, [join(repoRoot, "scripts/release-build.mjs"), releaseDir]);
  const [seaTar, npmTgz] = String(built.stdout).trim().split("\n");
  mkdirSync(join(root, "sea"));
  await execa("tar", ["-xzf", seaTar!, "-C", join(root, "sea"), "--strip-components=1"]);
  // npm itself needs node on PATH; the installed commands then run with the reduced PATH below.
  await execa("npm", ["i", "-g", "--offline", "--no-audit", "--no-fund", "--prefix", join(root, "npm"), npmTgz!], { cwd: root });
}, 300_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const pathFor = (kind: keyof typeof installs, extra: string[] = []) => [installs[kind].bin, ...extra, "/usr/bin", "/bin"].join(":");

describe("the single executable needs no node", () => {
  it("bin/ holds slurmpipe and the seven names as links to it", async () => {
    for (const name of ["slurmpipe", ...COMMANDS]) {
      const r = await execa(join(installs.sea.bin, name), ["--help"], { env: { PATH: installs.sea.bin }, extendEnv: false, reject: false });
      expect(r.exitCode, `${name}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toContain(name === "slurmpipe" ? "slurmpipe <command>" : name);
    }
  });

  it("`slurmpipe <command>` and the command's own name print the same help as the built dist/cli.mjs", async () => {
    for (const command of COMMANDS) {
      const ref = await execa("node", [join(repoRoot, "packages", command, "dist/cli.mjs"), "--help"], { env: { NO_COLOR: "1" } });
      for (const argv of [[join(installs.sea.bin, "slurmpipe"), command], [join(installs.sea.bin, command)], [join(installs.npm.bin, command)]]) {
        const r = await execa(argv[0]!, [...argv.slice(1), "--help"], { env: { PATH: pathFor("npm"), NO_COLOR: "1" }, extendEnv: false });
        expect(r.stdout, argv.join(" ")).toBe(ref.stdout);
      }
    }
  });

  it("bash completion sourced from it completes with it (each TAB runs the executable)", async () => {
    const script = 'source <(slurmpipe completion bash) && COMP_WORDS=(slurm-poll --ti) COMP_CWORD=1 && _slurmpipe_complete && echo "${COMPREPLY[*]}"';
    const r = await execa("bash", ["--norc", "-c", script], { env: { PATH: pathFor("sea") }, extendEnv: false });
    expect(r.stdout).toBe("--timeout");
  });

  it("an unknown command or flag is a usage error (exit 2)", async () => {
    const env = { env: { PATH: installs.sea.bin }, extendEnv: false, reject: false } as const;
    const unknown = await execa(join(installs.sea.bin, "slurmpipe"), ["sweep-generate"], env);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "sweep-generate"/);
    const flag = await execa(join(installs.sea.bin, "slurm-render"), ["--no-such-flag"], env);
    expect(flag.exitCode).toBe(2);
  });
});

describe("log-parse --jobs: worker threads started from the installed command (no file beside it)", () => {
  it.each(["sea", "npm"] as const)("%s: --jobs 2 gives the records of one thread, in order", async (kind) => {
    const dir = mkdtempSync(join(tmpdir(), "sp-inst-jobs-"));
    const lines = Array.from({ length: 6 }, (_, i) => {
      const out = join(dir, `r${i}.out`);
      writeFileSync(out, `${Array.from({ length: 2000 }, (_, s) => `step ${s} loss ${(4 - s / 1000 - i / 10).toFixed(4)}`).join("\n")}\n${i === 2 ? "step 2000 loss nan\n" : ""}`);
      return JSON.stringify({ id: `r${i}`, name: `r${i}`, logs: { stdout: out }, state: { state: "COMPLETED", category: "success", terminal: true } });
    });
    const input = `${lines.join("\n")}\n`;
    const env = { env: { PATH: pathFor(kind) }, extendEnv: false, input } as const;
    const one = await execa(join(installs[kind].bin, "log-parse"), [], env);
    const two = await execa(join(installs[kind].bin, "log-parse"), ["--jobs", "2"], env);
    expect(String(one.stdout).split("\n")).toHaveLength(6);
    expect(two.stdout).toBe(one.stdout);
    expect(String(two.stdout)).toContain('"trend":"NAN"');
  });
});

describe("man pages, from the same text as --help", () => {
  it.each(["sea", "npm"] as const)("%s: a page per command in share/man/man1 that groff parses without a warning", async (kind) => {
    const man1 = join(installs[kind].bin, "../share/man/man1");
    for (const command of ["slurmpipe", ...COMMANDS]) {
      const page = join(man1, `${command}.1`);
      const groff = await execa("groff", ["-man", "-Tutf8", "-ww", "-z", page], { reject: false });
      expect(groff.exitCode, page).toBe(0);
      expect(groff.stderr, page).toBe("");
      const args = command === "slurmpipe" ? ["--help"] : [command, "--help"];
      const help = await execa(join(installs.sea.bin, "slurmpipe"), args, { env: { NO_COLOR: "1", COLUMNS: "80" } });
      const text = readFileSync(page, "utf8");
      // Every line of the help text is in the page (escaped for roff where needed).
      for (const line of String(help.stdout).split("\n").filter((l) => l.trim() && !/^[A-Z][^:]*:$/.test(l)))
        expect(text, `${page}: ${line}`).toContain(line.replace(/\\/g, "\\e").replace(/^([.'])/, "\\&$1"));
    }
  });
});

/** Runs the recipe's steps as written, with only the installed commands on PATH. */
async function runRecipe(kind: keyof typeof installs, backend: "local" | "slurm", dir: string) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "sweep.yaml"),
    [
      `command: [python3, ${JSON.stringify(trainer)}]`,
      "args: hydra",
      `name: "inst-${kind}-${backend}-lr{lr}"`,
      "params: { step_time: 0.15, log_every: 2 }",
      "grid: { lr: [0.1, 0.2] }",
      'resources: { time: "00:05:00", mem: 512M }',
      "",
    ].join("\n"),
  );
  const env = {
    PATH: pathFor(kind, backend === "slurm" && slurmBin ? [slurmBin] : []),
    HOME: dir,
    BACKEND: backend,
    PROFILE: "local",
    SWEEP: "sweep.yaml",
    SAMPLE_STEPS: "20",
    FULL_STEPS: "2000",
    INTERVAL: backend === "local" ? "1s" : "2s",
    SLURMPIPE_LOCAL_DIR: join(dir, ".local-cluster"),
  };
  for (const step of ["render", "submit", "check", "report"]) {
    const script = ["set -euo pipefail", recipe.steps.get("setup")!, recipe.steps.get(step)!].join("\n");
    const r = await execa("/bin/bash", ["-c", script], { cwd: dir, env, extendEnv: false, reject: false, stdin: "ignore", timeout: 170_000 });
    if (r.exitCode !== 0) throw new Error(`${kind}/${backend} step ${step} exited ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
  }
  return readFileSync(join(dir, "SAMPLE_RUN.md"), "utf8");
}

for (const kind of ["sea", "npm"] as const) {
  for (const backend of ["local", "slurm"] as const) {
    const d = backend === "slurm" ? describeSlurm : describe;
    d(`sample-run recipe with the installed ${kind} artifact (${backend})`, () => {
      const dir = join(root, `run-${kind}-${backend}`);
      afterAll(() => cancelOwn(join(dir, ".slurmpipe-sample"), backend, join(dir, ".local-cluster")));
      it("completes and is READY", async () => {
        if (backend === "slurm") requireCluster();
        const report = await runRecipe(kind, backend, dir);
        const [parsed] = readRecords(join(dir, "sample-parsed.ndjson")).filter((r) => r.kind === "run");
        expect((parsed!.state as { state: string }).state).toBe("COMPLETED");
        expect(report).toMatch(/\*\*READY\*\*/);
        expect(report).not.toMatch(/NOT READY/);
      });
    });
  }
}
