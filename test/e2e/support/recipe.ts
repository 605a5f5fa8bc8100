import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runSlurm } from "@slurmpipe/core";
import { execa } from "execa";
import { describe } from "vitest";
import { repoRoot } from "../../support/cli.ts";
import { describeSlurm } from "../../support/slurm.ts";

/**
 * The recipes in docs/recipes/ are the tests' source of truth: every ```bash block whose info
 * string says `step:NAME` is run exactly as written, as one shell session would run it (the
 * `step:setup` block first, then the step). The tests only choose the settings the recipe reads
 * from the environment (BACKEND, PROFILE, SWEEP, ...) and check what the steps leave behind.
 */
export interface Recipe {
  file: string;
  steps: Map<string, string>;
}

const BLOCK = /^```bash step:([\w-]+)[^\n]*\n([\s\S]*?)^```\s*$/gm;

export function loadRecipe(name: string): Recipe {
  const file = join(repoRoot, "docs/recipes", `${name}.md`);
  const text = readFileSync(file, "utf8");
  const steps = new Map<string, string>();
  for (const m of text.matchAll(BLOCK)) {
    if (steps.has(m[1]!)) throw new Error(`${file}: step ${m[1]} appears twice`);
    steps.set(m[1]!, m[2]!);
  }
  if (steps.size === 0) throw new Error(`${file}: no \`\`\`bash step:NAME blocks`);
  return { file, steps };
}

export interface StepResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Runs one step of a recipe with bash (errexit, pipefail) in `cwd`; rejects when it fails. */
export async function runStep(recipe: Recipe, step: string, cwd: string, env: Record<string, string>): Promise<StepResult> {
  const body = recipe.steps.get(step);
  if (body === undefined) throw new Error(`${recipe.file}: no step ${step} (has ${[...recipe.steps.keys()].join(", ")})`);
  const script = ["set -euo pipefail", recipe.steps.get("setup") ?? "", body].join("\n");
  const r = await execa("bash", ["-c", script], {
    cwd,
    env: { ...env, PATH: `${join(repoRoot, "examples/bin")}:${process.env.PATH}`, SLURMPIPE: repoRoot },
    reject: false,
    stdin: "ignore",
    timeout: 170_000,
  });
  const result = { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
  if (result.exitCode !== 0) {
    throw new Error(`${recipe.file} step ${step} exited ${result.exitCode}\n--- stdout\n${result.stdout.slice(-3000)}\n--- stderr\n${result.stderr.slice(-3000)}`);
  }
  return result;
}

/** The command wrappers the recipes put on PATH (`make -C examples bin`), built once. */
export async function ensureBin(): Promise<void> {
  await execa("make", ["-s", "-C", join(repoRoot, "examples"), "bin"]);
}

export interface Backend {
  name: "local" | "slurm";
  describe: typeof describe;
  /** Settings for the recipe's environment. */
  env: () => Record<string, string>;
}

/**
 * Each recipe runs on both backends: the local one always (its jobs live in a temp dir), the real
 * local Slurm when it is up (describeSlurm skips it otherwise, and fails under CI).
 */
export function backends(): Backend[] {
  return [
    { name: "local", describe, env: () => ({ BACKEND: "local", PROFILE: "local" }) },
    { name: "slurm", describe: describeSlurm, env: () => ({ BACKEND: "slurm", PROFILE: "local" }) },
  ];
}

/** A scratch directory; with the local backend it also holds the local "cluster". */
export function scratch(prefix: string): { dir: string; env: Record<string, string>; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `sp-e2e-${prefix}-`));
  return {
    dir,
    env: { SLURMPIPE_LOCAL_DIR: join(dir, ".local-cluster"), HOME: process.env.HOME ?? dir },
    // A cancelled local job's runner may still write its last lines there (cancelOwn waits for the
    // queue to empty first): ENOTEMPTY is retried.
    cleanup: () => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 }),
  };
}

/** Job ids slurm-submit recorded in a state directory's ledger (every attempt). */
export function ledgerJobIds(stateDir: string): string[] {
  let text = "";
  try {
    text = readFileSync(join(stateDir, "ledger.ndjson"), "utf8");
  } catch {
    return [];
  }
  const ids = new Set<string>();
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const e = JSON.parse(line) as { t?: string; job_id?: string };
    if (e.job_id) ids.add(e.job_id);
  }
  return [...ids];
}

/** Ledger entries of one kind (`submitted`, `intent`, ...). */
export function ledgerEntries(stateDir: string, kind: string): Record<string, unknown>[] {
  let text = "";
  try {
    text = readFileSync(join(stateDir, "ledger.ndjson"), "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => e.t === kind);
}

/**
 * Cancels this test's own jobs that are still queued or running, by id (finished ones are left
 * alone). On the local backend it then waits (up to 30 s) for the jobs' processes and runners to
 * exit: they write after the signal, and a scratch directory removed meanwhile failed with
 * ENOTEMPTY (seen twice in CI, sweep-from-dirs).
 */
export async function cancelOwn(stateDir: string, backend: Backend["name"], localDir?: string): Promise<void> {
  const ids = ledgerJobIds(stateDir);
  if (ids.length === 0) return;
  if (backend === "slurm") {
    await execa("scancel", ids, { reject: false });
    return;
  }
  await runSlurm("scancel", ids, { backend: "local", ...(localDir ? { localStateDir: localDir } : {}) }).catch(() => undefined);
  if (!localDir) return;
  // The job leaves the queue at once; its process and its runner go on a moment (a trainer that
  // checkpoints on SIGTERM, the runner's last state write): wait for the pids its job file names.
  const pids = ids.flatMap((id) => {
    try {
      const job = JSON.parse(readFileSync(join(localDir, "jobs", `${id}.json`), "utf8")) as { pid?: number; runner_pid?: number };
      return [job.pid, job.runner_pid].filter((p): p is number => typeof p === "number" && p > 0);
    } catch {
      return [];
    }
  });
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (const end = Date.now() + 30_000; Date.now() < end && pids.some(alive); ) await new Promise((r) => setTimeout(r, 200));
}

export function records(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export function readRecords(path: string): Record<string, unknown>[] {
  return records(readFileSync(path, "utf8"));
}
