// Every command's --help, asserted whole: the snapshots in help-text/ are the reviewed text, so a
// changed help text shows up as a diff of those files (update them with `vitest -u` and commit).
// And an unknown flag is a usage error (exit 2, the flag named) for every command.
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { cliPath, repoRoot } from "../support/cli.ts";

const COMMANDS = ["sweep-gen", "slurm-render", "slurm-submit", "slurm-poll", "log-parse", "summary-md", "archive"];
const env = { NO_COLOR: "1", COLUMNS: "100" };

describe("--help, whole", () => {
  it.each(COMMANDS)("%s --help", async (command) => {
    const r = await execa("node", [cliPath(command), "--help"], { env });
    expect(r.stderr).toBe("");
    await expect(`${r.stdout}\n`).toMatchFileSnapshot(join(import.meta.dirname, "help-text", `${command}.txt`));
  });

  it("slurmpipe --help (the distribution's dispatcher)", async () => {
    const r = await execa("node", [join(repoRoot, "packages/slurmpipe/dist/slurmpipe.cjs"), "--help"], { env });
    await expect(r.stdout).toMatchFileSnapshot(join(import.meta.dirname, "help-text", "slurmpipe.txt"));
  });
});

describe("an unknown flag exits 2", () => {
  it.each(COMMANDS)("%s --bogus-flag", async (command) => {
    const r = await execa("node", [cliPath(command), "--bogus-flag", "x"], { env, reject: false, input: "" });
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/bogus-flag/);
  });
  it.each(COMMANDS)("%s --no-such-flag: named as typed, not as yargs' negated key", async (command) => {
    const r = await execa("node", [cliPath(command), "--no-such-flag"], { env, reject: false, input: "" });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("Unknown option: --no-such-flag");
  });
});
