import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ensureBin } from "../e2e/support/recipe.ts";
import { cliPath, repoRoot } from "../support/cli.ts";
import { describeSlurm } from "../support/slurm.ts";
import { type ExampleCheck, type Sandbox, checks, prepare } from "./help-examples/checks.ts";

/**
 * Every example printed by every command's --help is run here, exactly as printed, in a sandbox
 * holding the files the examples name (grid.yaml, runs.ndjson, .slurmpipe, ...), against the real
 * local Slurm; each has a check of what its description promises. An example added to a --help
 * without a check here fails this test, so the printed examples cannot rot (issue #14 item 13).
 */
const COMMANDS = ["sweep-gen", "slurm-render", "slurm-submit", "slurm-poll", "log-parse", "summary-md", "archive"] as const;

/** The examples yargs prints under "Examples:" (one per line, wrap(null): command, 2+ spaces, text). */
export async function helpExamples(command: string): Promise<string[]> {
  const r = await execa("node", [cliPath(command), "--help"]);
  const lines = String(r.stdout).split("\n");
  const start = lines.findIndex((l) => l.trim() === "Examples:");
  if (start < 0) return [];
  const out: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === "") break;
    const m = /^\s+(.*?\S)\s{2,}\S/.exec(line);
    out.push(m ? m[1]! : line.trim());
  }
  return out;
}

let root: string;
beforeAll(async () => {
  await ensureBin();
  root = mkdtempSync(join(tmpdir(), "sp-help-examples-"));
});
afterAll(async () => {
  // Cancel whatever an example left queued (by this sandbox's ledgers only), then clean up.
  for (const dir of existsSync(root) ? readdirSync(root) : []) {
    const ledger = join(root, dir, ".slurmpipe", "ledger.ndjson");
    if (!existsSync(ledger)) continue;
    const ids = [...readFileSync(ledger, "utf8").matchAll(/"job_id":"(\d+)/g)].map((m) => m[1]!);
    if (ids.length > 0) await execa("scancel", [...new Set(ids)], { reject: false });
  }
  rmSync(root, { recursive: true, force: true });
});

/** A sandbox with the files every example refers to. */
function sandbox(command: string): Sandbox {
  const dir = join(root, command);
  mkdirSync(dir, { recursive: true });
  symlinkSync(join(repoRoot, "examples"), join(dir, "examples"));
  const train = join(repoRoot, "examples/train.py");
  // lr0.1 trains; lr0.2 raises an exception half way (FAILED): the examples about failures have one.
  writeFileSync(
    join(dir, "grid.yaml"),
    [
      `command: [python3, ${JSON.stringify(train)}, "fail={fail}"]`,
      "args: hydra",
      'name: "lr{lr}"',
      "group: lr-sweep",
      "dir: runs",
      "params: {max_steps: 40, step_time: 0.02}",
      "grid:",
      "  lr: [0.1, 0.2]",
      "  fail: [none, exception]",
      "zip: [[lr, fail]]",
      "",
    ].join("\n"),
  );
  writeFileSync(
    join(dir, "sweep.yaml"),
    [`command: [python3, ${JSON.stringify(train)}]`, "args: hydra", 'name: "lr{lr}_wd{weight_decay}"', "dir: runs", "grid:", "  lr: {log_uniform: [0.001, 0.1]}", "  weight_decay: {uniform: [0, 0.1]}", ""].join("\n"),
  );
  writeFileSync(join(dir, "mycluster.yaml"), ["extends: generic", "description: a site profile of one's own", 'resources: {time: "00:20:00"}', ""].join("\n"));
  const env = {
    ...process.env,
    PATH: `${join(repoRoot, "examples/bin")}:${process.env.PATH}`,
    // archive's names carry the time: 2025-01-01T00:00:00Z, as the archive examples print.
    SOURCE_DATE_EPOCH: "1735689600",
    NO_COLOR: "1",
  };
  return {
    dir,
    env,
    sh: async (script: string) => {
      const r = await execa("bash", ["-c", `set -o pipefail\n${script}`], { cwd: dir, env, reject: false, stdin: "ignore", timeout: 170_000 });
      return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
    },
    copyRun: (from: string, to: string) => cpSync(join(dir, from), join(dir, to)),
  };
}

describeSlurm("every --help example runs as printed", () => {
  for (const command of COMMANDS) {
    it(`${command} --help examples`, async () => {
      const examples = await helpExamples(command);
      expect(examples.length, `${command} --help prints examples`).toBeGreaterThan(0);
      const box = sandbox(command);
      await prepare[command]?.(box);
      for (const example of examples) {
        const check: ExampleCheck | undefined = checks[example];
        expect(check, `no check for the example of ${command} --help: ${example}`).toBeDefined();
        await check!.before?.(box);
        const r = await box.sh(example);
        const what = `${command} --help example \`${example}\` exited ${r.exitCode}\n--- stdout\n${r.stdout.slice(-2000)}\n--- stderr\n${r.stderr.slice(-3000)}`;
        expect(r.exitCode, what).toBe(check!.exitCode ?? 0);
        await check!.verify(r, box, what);
      }
    }, 600_000);
  }
});
