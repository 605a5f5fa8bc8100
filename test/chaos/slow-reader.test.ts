import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli, runCliSlowReader } from "../support/cli.ts";
import { submittedRecords, writeCompletedSlurm } from "../support/fake-slurm.ts";

/**
 * Every command's output read by a slow consumer (4 KiB per millisecond) is byte for byte what a
 * fast reader gets, with the same exit code. Before the fix the CLI shell ended with
 * process.exit() while writes to the full pipe were still queued: the tail was lost with exit 0.
 */
const RUNS = 1500;
const dir = mkdtempSync(join(tmpdir(), "sp-slow-reader-"));
const env = { ...process.env, SOURCE_DATE_EPOCH: "1767225600", SLURMPIPE_SLURM_BIN: join(dir, "bin") };

// Poll stamps events with the time of the cycle (milliseconds); the inputs carry whole seconds.
const pollTime = /"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"/g;
const normalise = (s: string) => s.replace(pollTime, '"<cycle time>"');

function sweepFile(): string {
  const file = join(dir, "sweep.yaml");
  // 1,410 runs of ~400 bytes: several pipe buffers, and (sweep-gen writes 64 KiB chunks) a last
  // chunk of ~3 KiB, small enough to be queued without backpressure: the one lost at exit.
  writeFileSync(file, `command: [python, train.py]\nname: "r_{a}_{b}"\ndir: "${dir}/runs/{name}"\nparams:\n  note: "${"n".repeat(200)}"\ngrid:\n  a: 0..29\n  b: 0..46\n`);
  return file;
}

const inputs: Record<string, string> = {};

beforeAll(async () => {
  writeCompletedSlurm(join(dir, "bin"));
  const sweep = await runCli("sweep-gen", [sweepFile()], { env });
  inputs.runs = String(sweep.stdout);
  const rendered = await runCli("slurm-render", ["--profile", "local", "--out", join(dir, "scripts")], { input: inputs.runs, env });
  inputs.rendered = String(rendered.stdout);
  inputs.submitted = submittedRecords(RUNS, { params: { pad: "p".repeat(300) } });
  // A thousand small files for archive, so it prints many archive-entry records.
  for (let i = 0; i < 1000; i++) {
    mkdirSync(join(dir, "results", `run${i}`), { recursive: true });
    writeFileSync(join(dir, "results", `run${i}`, "metrics.csv"), `step,loss\n1,${i}\n`);
  }
}, 120_000);

const cases: [string, () => { args: string[]; input?: string; reset?: () => void }][] = [
  ["sweep-gen", () => ({ args: [join(dir, "sweep.yaml")] })],
  ["slurm-render", () => ({ args: ["--profile", "local", "--out", join(dir, "scripts")], input: inputs.runs })],
  ["slurm-submit", () => ({ args: ["--dry-run", "--quiet", "--state", join(dir, "submit-state")], input: inputs.rendered })],
  ["slurm-poll", () => ({ args: ["--once", "--state", join(dir, "poll-state")], input: inputs.submitted, reset: () => rmSync(join(dir, "poll-state"), { recursive: true, force: true }) })],
  ["log-parse", () => ({ args: [], input: inputs.submitted })],
  ["summary-md", () => ({ args: [], input: inputs.submitted })],
  [
    "archive",
    () => ({
      args: ["--out", join(dir, "archives"), "--name", "slow", join(dir, "results")],
      reset: () => rmSync(join(dir, "archives"), { recursive: true, force: true }),
    }),
  ],
];

describe("a slow reader gets every byte", () => {
  it.each(cases)("%s: output through a slow pipe is identical to a fast read", async (command, make) => {
    const c = make();
    c.reset?.();
    const fast = await runCli(command, c.args, { input: c.input ?? "", env, cwd: dir, encoding: "buffer", stripFinalNewline: false });
    c.reset?.();
    const slow = await runCliSlowReader(command, c.args, { input: c.input, env, cwd: dir });
    const fastText = normalise(Buffer.from(fast.stdout as Uint8Array).toString());
    expect(fastText.length, `${command} wrote too little to fill a pipe`).toBeGreaterThan(256 * 1024);
    expect(slow.exitCode, slow.stderr).toBe(fast.exitCode);
    const slowText = normalise(slow.stdout.toString());
    expect(slowText.length).toBe(fastText.length);
    expect(slowText === fastText).toBe(true);
  });
});
