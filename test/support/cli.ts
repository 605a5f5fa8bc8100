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
