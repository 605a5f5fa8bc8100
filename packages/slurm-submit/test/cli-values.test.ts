import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { localJobsEnded } from "./local-jobs.ts";

// The built command, as a user runs it (turbo builds the package before its tests).
const CLI = fileURLToPath(new URL("../dist/cli.mjs", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "sp-submit-values-"));
// The local jobs' runners write into scratch until their jobs end (and exit then): wait for that.
afterAll(async () => {
  await localJobsEnded(scratch);
  rmSync(scratch, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
});

function submit(args: string[], input = "", env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, "--state", join(scratch, "state"), ...args], { input, encoding: "utf8", timeout: 60_000, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("slurm-submit: every option value is validated, always (issue #14 item 10)", () => {
  // [argv, the flag the message must name, a word of the accepted forms]
  const bad: [string[], string, RegExp][] = [
    [["--resubmit", "faild"], "--resubmit", /failed, all, or a comma-separated list .*TIMEOUT/],
    [["--resubmit", "TIMEOUT,BOGUS"], "--resubmit", /"BOGUS" is not one of the accepted values: failed, all/],
    [["--resubmit", "RUNNING"], "--resubmit", /the states a job ends in/],
    [["--resubmit", ""], "--resubmit", /accepted values/],
    [["--backend", "lokal"], "backend", /"slurm", "local"/],
    [["--stagger", "5x"], "--stagger", /5s, 2m, 500ms or 1h/],
    [["--rate", "5/xx"], "--rate", /N\/PERIOD.*got "5\/xx"/],
    [["--rate", "5/0s"], "--rate", /the period is 0/],
    [["--rate", "0/1m"], "--rate", /N >= 1/],
    [["--rate", ""], "--rate", /N\/PERIOD/],
    [["--in-flight-interval", "often"], "--in-flight-interval", /5s, 2m/],
    [["--confirm-delay", "1y"], "--confirm-delay", /5s, 2m/],
    [["--wait-lock", "5q"], "--wait-lock", /5s, 2m/],
    [["--lock-stale", "1s"], "--lock-stale", /at least 5s/],
    [["--sbatch-timeout", "0"], "--sbatch-timeout", /> 0/],
    [["--max-in-flight", "0"], "--max-in-flight", /whole number > 0/],
    [["--attempts", "1.5"], "--attempts", /whole number > 0/],
    [["--sbatch-arg", "hold"], "--sbatch-arg", /--sbatch-arg=--hold/],
    [["--only", "nofield"], "--only", /FIELD=VALUE/],
  ];
  for (const [argv, flag, forms] of bad) {
    it(`${argv.join(" ")}: a usage error (exit 2) naming ${flag} and the accepted forms`, () => {
      const r = submit(["--dry-run", ...argv]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(flag);
      expect(r.stderr).toMatch(forms);
    });
  }

  it("good values still pass: states in long or compact form, any case; rates and durations", () => {
    for (const argv of [["--resubmit", "failed"], ["--resubmit", "all"], ["--resubmit", "timeout,OOM"], ["--rate", "20/1m"], ["--stagger", "0"], ["--stagger", "500ms"]]) {
      const r = submit(["--dry-run", ...argv]);
      expect(r.code, `${argv.join(" ")}: ${r.stderr}`).toBe(0);
    }
  });
});

describe("slurm-submit: a script changed since rendering is never submitted (issue #14 item 9)", () => {
  it("the changed run fails with script_changed naming the file; the others are submitted; exit 1", () => {
    const dir = join(scratch, "changed");
    const local = join(scratch, "cluster");
    const record = (name: string) => {
      const path = join(scratch, `${name}.sbatch`);
      const text = `#!/bin/bash\n#SBATCH --output=${scratch}/${name}.out\ntrue\n`;
      writeFileSync(path, text);
      const sha256 = createHash("sha256").update(text).digest("hex");
      return { path, line: JSON.stringify({ id: `${name}-0123456789abcdef`, name, script: { path, sha256 } }) };
    };
    const kept = record("kept");
    const changed = record("changed");
    // Re-rendered (or edited) after the record was made: the record no longer describes the script.
    writeFileSync(changed.path, `#!/bin/bash\n#SBATCH --output=${scratch}/changed.out\necho something else\n`);
    const r = spawnSync(process.execPath, [CLI, "--backend", "local", "--state", join(dir, "state")], {
      input: `${kept.line}\n${changed.line}\n`,
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, SLURMPIPE_LOCAL_DIR: local },
    });
    expect(r.status, r.stderr).toBe(1);
    const out = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { name: string; job?: { id: string }; error?: { code: string; message: string } });
    const byName = Object.fromEntries(out.map((o) => [o.name, o]));
    expect(byName.kept?.job?.id).toMatch(/^\d+$/);
    expect(byName.kept?.error).toBeUndefined();
    expect(byName.changed?.job).toBeUndefined();
    expect(byName.changed?.error?.code).toBe("script_changed");
    expect(byName.changed?.error?.message).toContain(changed.path);
    expect(byName.changed?.error?.message).toMatch(/re-render/);
    expect(r.stderr).toContain(changed.path);
    // Only the unchanged script reached sbatch: no intent was ever written for the changed one.
    const ledger = readFileSync(join(dir, "state", "ledger.ndjson"), "utf8");
    expect(ledger).toMatch(/"t":"intent"[^\n]*"name":"kept"/);
    expect(ledger).not.toMatch(/"t":"intent"[^\n]*"name":"changed"/);
  });
});
