import { join } from "node:path";
import { execa } from "execa";
import { repoRoot } from "../../support/cli.ts";

/**
 * Runs a shell snippet as a user at the shell would (bash, errexit, pipefail, the command wrappers
 * of `make -C examples bin` on PATH) in `cwd`; rejects with its output when it fails.
 */
export async function shell(script: string, cwd: string, env: Record<string, string>, timeout = 170_000): Promise<{ stdout: string; stderr: string }> {
  const r = await execa("bash", ["-c", `set -euo pipefail\n${script}`], {
    cwd,
    env: { ...env, PATH: `${join(repoRoot, "examples/bin")}:${process.env.PATH}` },
    reject: false,
    stdin: "ignore",
    timeout,
  });
  if (r.exitCode !== 0) throw new Error(`exit ${r.exitCode}: ${script}\n--- stdout\n${String(r.stdout).slice(-3000)}\n--- stderr\n${String(r.stderr).slice(-3000)}`);
  return { stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** The ```sh blocks of STATUS.md's "## Rerun" section: the commands a person would copy and paste. */
export function rerunCommands(markdown: string): string[] {
  const section = markdown.split(/^## Rerun$/m)[1]?.split(/^## /m)[0] ?? "";
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!.trim());
}

/** A row of a markdown table whose first cell is `name`, as cells. */
export function tableRow(markdown: string, name: string): string[] | undefined {
  const line = markdown.split("\n").find((l) => l.startsWith(`| ${name} |`));
  return line
    ?.split(/(?<!\\)\|/)
    .slice(1, -1)
    .map((c) => c.trim());
}
