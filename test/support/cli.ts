import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Options, execa } from "execa";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/** Entry of a command's standalone build (dist/cli.mjs + dist/cli-chunks/: what users copy to a login node). */
export function cliPath(command: string): string {
  return `${repoRoot}packages/${command}/dist/cli.mjs`;
}

/** Runs a built command with `node`, never through a shell. */
export function runCli(command: string, args: string[] = [], options: Options & { input?: string } = {}) {
  return execa("node", [cliPath(command), ...args], { reject: false, ...options });
}

/** Parses NDJSON output into objects. */
export function records(stdout: unknown): Record<string, unknown>[] {
  return String(stdout)
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export interface SlowReadResult {
  stdout: Buffer;
  stderr: string;
  exitCode: number | null;
}

// The consumer: reads 4 KiB, then sleeps (5 ms: slower than any command writes), from a real pipe.
const SLOW_READER = `
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
with open(sys.argv[2], "wb") as out:
    while True:
        b = os.read(fd, int(sys.argv[3]))
        if not b:
            break
        out.write(b)
        time.sleep(float(sys.argv[4]))
`;

/**
 * Runs a built command whose stdout is a real pipe (a FIFO, 64 KiB in the kernel) read by a slow
 * consumer, a separate process taking `chunk` bytes every `pauseS` seconds, as in
 * `command | slow-consumer`: the pipe is full most of the time and the command's writes queue up.
 * Output lost at exit shows up as a difference to a fast read.
 */
export async function runCliSlowReader(
  command: string,
  args: string[],
  options: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv; chunk?: number; pauseS?: number } = {},
): Promise<SlowReadResult> {
  const dir = mkdtempSync(join(tmpdir(), "sp-slow-pipe-"));
  try {
    const fifo = join(dir, "pipe");
    await execa("mkfifo", [fifo]);
    const reader = execa("python3", ["-c", SLOW_READER, fifo, join(dir, "out"), String(options.chunk ?? 4096), String(options.pauseS ?? 0.005)], { reject: false });
    // Opening a FIFO for writing waits for its reader: the python process above.
    const fd = openSync(fifo, "w");
    // node:child_process, not execa: execa's options take no file descriptor above 9, and the
    // FIFO's must be the child's stdout itself (through the parent it would not be a slow pipe).
    const child = spawn("node", [cliPath(command), ...args], { cwd: options.cwd, env: options.env ?? process.env, stdio: ["pipe", fd, "pipe"] });
    closeSync(fd);
    child.stdin!.on("error", () => {}); // a command may stop reading before the end of its input
    child.stdin!.end(options.input ?? "");
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", resolve);
    });
    await reader;
    return { stdout: readFileSync(join(dir, "out")), stderr, exitCode };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
