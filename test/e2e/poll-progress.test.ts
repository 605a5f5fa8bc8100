import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { cliPath, records, runCli } from "../support/cli.ts";
import { requireCluster } from "../support/slurm.ts";
import { backends, cancelOwn, scratch } from "./support/recipe.ts";

// Issue #14 item 5: a watch is not silent for hours. On a terminal (a real pty, through
// util-linux `script`) a one-line summary is redrawn in place on stderr; off a terminal,
// --progress D prints the summary as a plain line at most every D; without it, nothing.
const SUMMARY = /slurm-poll: 1 jobs: 1 (pending|running) - next check in \d+s/;
const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

for (const backend of backends()) {
  backend.describe(`slurm-poll progress (${backend.name})`, () => {
    const s = scratch(`poll-progress-${backend.name}`);
    const env = () => ({ ...process.env, ...s.env });
    const tag = randomBytes(5).toString("hex");
    let n = 0;

    /** A fresh state directory with one submitted job that runs `seconds`. */
    const submitJob = async (seconds: number): Promise<string> => {
      const state = join(s.dir, `state${++n}`);
      const script = join(s.dir, `job${n}.sh`);
      writeFileSync(script, `#!/bin/bash\n#SBATCH --output=${s.dir}/%x-%j.out\nsleep ${seconds}\n`);
      const run = { kind: "run", v: 1, id: `${tag}${n}pr000`, name: `progress${n}_${tag}`, script: { path: script } };
      const r = await runCli("slurm-submit", ["--backend", backend.name, "--state", state], { cwd: s.dir, env: env(), input: JSON.stringify(run) });
      expect(r.exitCode, String(r.stderr)).toBe(0);
      return state;
    };

    beforeAll(() => {
      if (backend.name === "slurm") requireCluster();
    });
    afterAll(async () => {
      for (let i = 1; i <= n; i++) await cancelOwn(join(s.dir, `state${i}`), backend.name, s.env.SLURMPIPE_LOCAL_DIR);
      s.cleanup();
    });

    it("on a terminal: a live summary line, redrawn in place, cleared at the end", async () => {
      const state = await submitJob(5);
      const out = join(s.dir, "tty-out.ndjson");
      const command = ["node", cliPath("slurm-poll"), "--backend", backend.name, "--state", state, "--interval", "2s"].map(quote).join(" ");
      const r = await execa("script", ["-qfec", `${command} > ${quote(out)}`, "/dev/null"], { cwd: s.dir, env: env(), stdin: "ignore", reject: false, timeout: 150_000 });
      expect(r.exitCode, String(r.stdout)).toBe(0);
      const tty = String(r.stdout);
      const redraws = tty.split("\r\u001b[K").filter((part) => SUMMARY.test(part));
      expect(redraws.length, tty).toBeGreaterThan(1);
      expect(tty).not.toMatch(/next check in \d+s[^\r]*\n/); // never a line of its own on a terminal
      expect(tty.trimEnd().endsWith("\r\u001b[K"), JSON.stringify(tty.slice(-200))).toBe(true); // cleared before exit
      expect(records(readFileSync(out, "utf8")).some((x) => x.kind === "run" && (x.state as { state: string }).state === "COMPLETED")).toBe(true);
    });

    it("off a terminal: --progress D prints summary lines on stderr; without it, none", async () => {
      const state = await submitJob(4);
      const withProgress = await runCli("slurm-poll", ["--backend", backend.name, "--state", state, "--interval", "1s", "--progress", "1s"], { cwd: s.dir, env: env(), stdin: "ignore", timeout: 150_000 });
      expect(withProgress.exitCode, String(withProgress.stderr)).toBe(0);
      const lines = String(withProgress.stderr).split("\n").filter((l) => SUMMARY.test(l));
      expect(lines.length, String(withProgress.stderr)).toBeGreaterThan(0);
      expect(String(withProgress.stderr)).not.toContain("\u001b[");
      const state2 = await submitJob(2);
      const quiet = await runCli("slurm-poll", ["--backend", backend.name, "--state", state2, "--interval", "1s"], { cwd: s.dir, env: env(), stdin: "ignore", timeout: 150_000 });
      expect(quiet.exitCode, String(quiet.stderr)).toBe(0);
      expect(String(quiet.stderr)).not.toMatch(/next check in/);
    });

    it("a bad --progress value is a usage error naming the flag and the accepted forms", async () => {
      const r = await runCli("slurm-poll", ["--backend", backend.name, "--state", join(s.dir, "none"), "--progress", "often"], { cwd: s.dir, env: env() });
      expect(r.exitCode).toBe(2);
      expect(String(r.stderr)).toMatch(/--progress: expected a duration like 30s, 10m or 1h, or off, got "often"/);
    });
  });
}
