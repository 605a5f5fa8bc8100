import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SUPERLINEAR } from "./adversarial.ts";

/**
 * SIGTERM / SIGINT stop the built command promptly while it parses adversarial input. Before the
 * scans were linear, SIGTERM took effect only after the regex running at the time returned (38 s
 * in the issue): core loads proper-lockfile, whose signal-exit installs JS handlers for SIGTERM
 * and SIGINT, and a JS handler runs only when the event loop gets control.
 */
const pkg = fileURLToPath(new URL("..", import.meta.url));
const cli = join(pkg, "dist", "cli.mjs");
const BOUND_MS = 5000;

let dir: string;
let log: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "log-parse-signal-"));
  log = join(dir, "adversarial.log");
  // The five 200,000-digit lines, then one 200 kB line of every other family.
  const lines = Array.from({ length: 5 }, () => `loss: ${"1".repeat(200_000)}x`);
  for (const f of SUPERLINEAR) lines.push(f.line(200_000));
  await writeFile(log, `${lines.join("\n")}\n`);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The built command must be at least as new as the sources, or this would test old code. */
function assertFreshBuild(): void {
  const built = statSync(cli, { throwIfNoEntry: false });
  expect(built, `${cli} missing: run \`pnpm --filter @slurmpipe/log-parse build\``).toBeDefined();
  const src = join(pkg, "src");
  const newest = Math.max(...readdirSync(src).map((f) => statSync(join(src, f)).mtimeMs));
  expect(built!.mtimeMs, `${cli} is older than src/: run \`pnpm --filter @slurmpipe/log-parse build\``).toBeGreaterThanOrEqual(newest);
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

async function stopsOn(signal: NodeJS.Signals): Promise<void> {
  assertFreshBuild();
  // The same file many times over: far more work than fits before the signal is sent.
  const child = spawn(process.execPath, [cli, ...Array.from({ length: 200 }, () => log)], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const exit = exited(child);
  let early: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void exit.then((e) => (early ??= e));
  try {
    await new Promise((r) => setTimeout(r, 1500)); // node started, parsing under way
    expect(early, `log-parse ended before the signal was sent: ${stderr}`).toBeUndefined();
    const sent = performance.now();
    child.kill(signal);
    const result = await Promise.race([exit, new Promise<undefined>((r) => setTimeout(() => r(undefined), BOUND_MS))]);
    const took = performance.now() - sent;
    expect(result, `still running ${BOUND_MS} ms after ${signal}`).toBeDefined();
    // Killed by the signal (or exiting 128 + signal number, if a handler exits instead).
    const code = signal === "SIGTERM" ? 143 : 130;
    expect(result!.signal === signal || result!.code === code, `exit ${JSON.stringify(result)} after ${took.toFixed(0)} ms`).toBe(true);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exit;
  }
}

describe("signals stop log-parse at once", () => {
  it("SIGTERM during adversarial input", () => stopsOn("SIGTERM"), 30_000);
  it("SIGINT during adversarial input", () => stopsOn("SIGINT"), 30_000);
});
