// The promise of `pnpm build`: a command's dist/ directory, copied anywhere (a login node with
// nothing but `node`), runs on its own. Copied to a temp dir outside the repo, so no node_modules
// can be found by walking up; `--help` (shell only) and a real run (the lazily loaded library chunk)
// must both work.
import { cp, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { records, repoRoot } from "../support/cli.ts";

const COMMANDS = ["sweep-gen", "slurm-render", "slurm-submit", "slurm-poll", "log-parse", "summary-md", "archive"];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "slurmpipe-standalone-"));
  for (const command of COMMANDS) await cp(join(repoRoot, "packages", command, "dist"), join(dir, command), { recursive: true });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const run = (command: string, args: string[], input?: string) =>
  execa("node", [join(dir, command, "cli.mjs"), ...args], { reject: false, cwd: dir, input, env: { NO_COLOR: "1" } });

describe("a copied dist/ runs without node_modules", () => {
  it.each(COMMANDS)("%s --help", async (command) => {
    const r = await run(command, ["--help"]);
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(command);
  });

  it("keeps the library in a chunk of its own that --help does not need", async () => {
    const chunks = await readdir(join(dir, "sweep-gen", "cli-chunks"));
    expect(chunks.length).toBeGreaterThan(1);
  });

  it("sweep-gen | slurm-render | log-parse run through the library chunks", async () => {
    const sweep = await run("sweep-gen", ["-p", "lr=0.1,0.2", "--name", "r{lr}", "--dir", "runs/{name}", "--", "echo", "{lr}"]);
    expect(sweep.exitCode).toBe(0);
    expect(records(sweep.stdout).map((r) => r.name)).toEqual(["r0.1", "r0.2"]);

    const render = await run("slurm-render", ["--profile", "local", "--check"], sweep.stdout);
    expect(render.stderr).toBe("");
    expect(render.exitCode).toBe(0);
    expect(records(render.stdout)).toHaveLength(2);

    await writeFile(join(dir, "train.log"), "iter 1: loss 2.5000\niter 2: loss 2.2500\n");
    const parsed = await run("log-parse", ["train.log"]);
    expect(parsed.exitCode).toBe(0);
    expect(parsed.stdout).toContain("2.25");
  });
});
