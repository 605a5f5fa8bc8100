import { chmodSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, expect, it } from "vitest";
import { cancel, countByName, ndjson, tinyRun } from "../../packages/slurm-submit/test/slurm-fixtures.ts";
import { closeRemote } from "../../packages/core/src/remote/ssh.ts";
import { records, runCli } from "../support/cli.ts";
import { describeSlurm, requireCluster } from "../support/slurm.ts";
import { type Sshd, startSshd } from "./support/sshd.ts";

const ours: string[] = [];
let sshd: Sshd;
let state = "";
beforeAll(async () => {
  sshd = await startSshd();
});
afterAll(async () => {
  await cancel(ours);
  if (state) await closeRemote({ host: sshd.host, stateDir: state, sshBin: sshd.sshBin });
  await sshd?.stop();
});

describeSlurm("--remote against a real sshd and the real local Slurm", () => {
  it("slurm-submit and slurm-poll run Slurm on HOST over one ssh connection per command run", async () => {
    requireCluster();
    const dir = mkdtempSync(join(tmpdir(), "sp-remote-e2e-"));
    chmodSync(dir, 0o777); // the jobs run as the test user and write their logs here
    const runs = Array.from({ length: 3 }, (_, i) => tinyRun(dir, `spremote-${i}`, i === 1 ? "exit 3" : "sleep 1"));
    for (const r of runs) chmodSync(join(dir, String(r.name)), 0o777);
    state = join(dir, "state");
    const env = { SLURMPIPE_SSH: sshd.sshBin };
    const before = sshd.accepted();
    const sub = await runCli("slurm-submit", ["--state", state, "--remote", sshd.host, "--remote-batch-mode"], { input: ndjson(runs), env });
    expect(sub.stderr).not.toMatch(/error/i);
    const out = records(sub.stdout) as { job?: { id?: string; name?: string } }[];
    expect(out.map((r) => r.job?.id)).toHaveLength(3);
    for (const r of out) ours.push(String(r.job?.id));
    expect(sshd.accepted() - before).toBe(1);
    const poll = await runCli("slurm-poll", ["--state", state, "--remote", sshd.host, "--remote-batch-mode", "--interval", "2s", "--timeout", "120s"], { input: String(sub.stdout), env });
    const finals = (records(poll.stdout) as { kind?: string; name?: string; state?: { state?: string } }[]).filter((r) => r.kind !== "event");
    // What slurm-poll read over ssh is what this machine's sacct says. (Not COMPLETED/FAILED by
    // script: where slurmd's spool is unreadable to the test user, its jobs fail at execve.)
    expect(finals).toHaveLength(3);
    for (const r of finals) {
      const id = out.find((o) => String(o.job?.name).startsWith(`${r.name}.sp`))!.job!.id!;
      const local = (await execa("sacct", ["-j", id, "-X", "-n", "-P", "-o", "state"])).stdout.trim();
      expect(r.state?.state, String(r.name)).toBe(local);
    }
    // slurm-poll's whole watch went through the connection slurm-submit opened (ControlPersist,
    // same state dir): one TCP connection and one authentication for both command runs.
    expect(sshd.accepted() - before).toBe(1);
    // Zero duplicates: sacct knows each job name once.
    const counts = await countByName(out.map((r) => String(r.job?.name)));
    for (const r of out) expect(counts.sacct.get(String(r.job?.name))).toEqual([String(r.job?.id)]);
  });
});
