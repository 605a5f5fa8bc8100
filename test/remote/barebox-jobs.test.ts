import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ndjson } from "../../packages/slurm-submit/test/slurm-fixtures.ts";
import { closeRemote } from "../../packages/core/src/remote/ssh.ts";
import { records, runCli } from "../support/cli.ts";
import { boxRun, hostHome, readHostJob } from "./support/barebox.ts";
import { HOSTILE_NAMES } from "./support/hostile.ts";
import { type Sshd, TEST_USER, startSshd } from "./support/sshd.ts";

/**
 * Bare-box mode for real: `--backend local --remote HOST` against a real sshd on 127.0.0.1 with a
 * non-root test user. The local backend runs on HOST (node there), the jobs run on HOST as that
 * user; no Slurm anywhere.
 */
let sshd: Sshd;
let state = "";
beforeAll(async () => {
  sshd = await startSshd();
});
afterAll(async () => {
  if (state) await closeRemote({ host: sshd.host, stateDir: state, sshBin: sshd.sshBin });
  await sshd?.stop();
});

type Rec = { kind?: string; name?: string; job?: { id?: string; name?: string; backend?: string }; state?: { state?: string; exit_code?: string; terminal?: boolean } };

describe("bare-box mode: --backend local --remote HOST", () => {
  it("slurm-submit and slurm-poll run the local backend's jobs on HOST as its user, over one ssh connection, with the local backend's end states", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-barebox-"));
    chmodSync(dir, 0o755);
    // Hostile words in the run directories: they reach HOST inside sbatch's script path argument.
    const words = HOSTILE_NAMES.filter((w) => !/["\n%]/.test(w) && !w.startsWith("-")).slice(0, 3);
    expect(words).toHaveLength(3);
    const runs = [
      boxRun(dir, words[0]!, "box-ok", 'id -un; echo "node=$(hostname) job=$SLURM_JOB_ID"; echo "submit_dir=$SLURM_SUBMIT_DIR"'),
      boxRun(dir, words[1]!, "box-fail", "id -un; exit 3"),
      boxRun(dir, words[2]!, "box-sleep", "id -un; sleep 3; echo slept"),
    ];
    state = join(dir, "state");
    const env = { SLURMPIPE_SSH: sshd.sshBin };
    const remote = ["--backend", "local", "--remote", sshd.host, "--remote-batch-mode"];
    const before = sshd.accepted();
    const sub = await runCli("slurm-submit", ["--state", state, ...remote], { input: ndjson(runs), env });
    expect(sub.stderr).not.toMatch(/error/i);
    expect(sub.exitCode).toBe(0);
    const out = records(sub.stdout) as Rec[];
    expect(out.map((r) => r.job?.id).filter(Boolean)).toHaveLength(3);
    // One TCP connection and one authentication for the whole submission.
    expect(sshd.accepted() - before).toBe(1);

    const poll = await runCli("slurm-poll", ["--state", state, ...remote, "--interval", "1s", "--timeout", "90s"], { input: String(sub.stdout), env });
    expect(poll.exitCode, String(poll.stderr)).toBe(1); // 1: a job ended other than COMPLETED (box-fail)
    const finals = (records(poll.stdout) as Rec[]).filter((r) => r.kind !== "event");
    const byName = new Map(finals.map((r) => [r.name, r]));
    expect(byName.get("box-ok")?.state).toMatchObject({ state: "COMPLETED", exit_code: "0:0", terminal: true });
    expect(byName.get("box-fail")?.state).toMatchObject({ state: "FAILED", exit_code: "3:0", terminal: true });
    expect(byName.get("box-sleep")?.state).toMatchObject({ state: "COMPLETED", exit_code: "0:0", terminal: true });
    // slurm-poll's whole watch reused the connection slurm-submit opened (ControlPersist, same state dir).
    expect(sshd.accepted() - before).toBe(1);

    // The jobs ran on HOST as the test user: their job files are in that user's local-backend
    // directory, owned by it, and their logs (in the run directories) were written by it.
    const home = await hostHome();
    const uid = Number((await execa("id", ["-u", TEST_USER])).stdout);
    for (const r of out) {
      const job = readHostJob(home, String(r.job!.id));
      expect(job.user).toBe(TEST_USER);
      expect(statSync(join(home, ".local/state/slurmpipe/local/jobs", `${r.job!.id}.json`)).uid).toBe(uid);
      expect(statSync(job.stdout).uid).toBe(uid);
      const log = readFileSync(job.stdout, "utf8");
      expect(log.split("\n")[0]).toBe(TEST_USER);
      expect(job.boot_id).toBe(readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim());
    }
    const okJob = readHostJob(home, String(out.find((r) => r.name === "box-ok")!.job!.id));
    expect(readFileSync(okJob.stdout, "utf8")).toContain(`job=${okJob.raw_id}`);
    expect(readFileSync(okJob.stdout, "utf8")).toContain(`submit_dir=${join(dir, words[0]!)}\n`); // sbatch ran in the script's directory on HOST
    expect(readFileSync(readHostJob(home, String(out.find((r) => r.name === "box-sleep")!.job!.id)).stdout, "utf8")).toContain("slept");
    // log-parse --remote reads the jobs' logs on HOST through the same connection.
    const parsed = await runCli("log-parse", ["--state", state, "--remote", sshd.host, "--remote-batch-mode"], { input: String(poll.stdout), env });
    const reports = records(parsed.stdout).filter((r) => r.kind !== "event") as (Rec & { report?: Record<string, unknown> })[];
    expect(parsed.exitCode, String(parsed.stderr)).toBe(0);
    expect(reports.map((r) => r.name)).toEqual(["box-ok", "box-fail", "box-sleep"]);
    for (const r of reports) expect(((r.report?.files ?? []) as { exists?: boolean }[])[0]?.exists, String(r.name)).toBe(true);
    expect(reports[1]!.report?.failures).toMatchObject([{ slurm: "Slurm: FAILED (exit 3:0)" }]);
    expect(sshd.accepted() - before).toBe(1); // still the one connection slurm-submit opened
    // No hostile word ran as a command on HOST (in the ssh session's directory or the runs').
    expect(existsSync(join(home, "PWNED"))).toBe(false);
    for (const w of words) expect(readdirSync(join(dir, w))).not.toContain("PWNED");
    expect(readdirSync(dir)).not.toContain("PWNED");
  });

  it("a HOST without node: a clear error naming HOST, nothing submitted", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-barebox-nonode-"));
    chmodSync(dir, 0o755);
    const run = boxRun(dir, "r", "box-nonode", "true");
    // What a box without node gives a non-interactive ssh session: a PATH with sh, env and sed only.
    const bin = join(dir, "bin");
    mkdirSync(bin, { mode: 0o755 });
    for (const tool of ["/bin/sh", "/usr/bin/env", "/bin/sed"]) symlinkSync(tool, join(bin, tool.split("/").pop()!));
    const wrapper = join(dir, "ssh");
    // The remote command line (ssh's last word) runs with that PATH; `ssh -O exit` calls pass through.
    writeFileSync(wrapper, [
      "#!/usr/bin/env node",
      'const { spawnSync } = require("node:child_process");',
      "const a = process.argv.slice(2);",
      `if (!a.includes("-O")) a[a.length - 1] = "PATH=${bin}; export PATH; " + a[a.length - 1];`,
      `process.exitCode = spawnSync(${JSON.stringify(sshd.sshBin)}, a, { stdio: "inherit" }).status ?? 255;`,
      "",
    ].join("\n"), { mode: 0o755 });
    const st = join(dir, "state");
    const sub = await runCli("slurm-submit", ["--state", st, "--backend", "local", "--remote", sshd.host, "--remote-batch-mode"], { input: ndjson([run]), env: { SLURMPIPE_SSH: wrapper } });
    await closeRemote({ host: sshd.host, stateDir: st, sshBin: sshd.sshBin });
    expect(sub.exitCode).not.toBe(0);
    expect(sub.stderr).toContain(`--remote ${sshd.host}: node is not on PATH`);
    expect(sub.stderr).toMatch(/node >= 20 there/);
    expect(records(sub.stdout).filter((r) => (r as Rec).job?.id)).toHaveLength(0);
  });
});
