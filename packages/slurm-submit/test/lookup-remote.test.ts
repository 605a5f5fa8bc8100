import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { countActive, lookupByNames } from "../src/index.ts";

/**
 * With --remote, the jobs belong to the remote login, whose name need not be this user's: the
 * by-name lookups (reconciliation, live states) and the in-flight count ask for the caller's own
 * jobs there (squeue --me, sacct without -u), never `-u <local user>`.
 */
function fakeSsh(): { sshBin: string; calls: () => string[] } {
  const dir = mkdtempSync(join(tmpdir(), "sp-lookup-remote-"));
  const log = join(dir, "calls");
  const sshBin = join(dir, "ssh");
  // The remote command line is ssh's last argument; answer as a Slurm with no such job.
  writeFileSync(sshBin, `#!/bin/sh\nfor a; do last=$a; done\nprintf '%s\\n' "$last" >> '${log}'\n`, { mode: 0o755 });
  return { sshBin, calls: () => readFileSync(log, "utf8").trim().split("\n") };
}

it("asks the remote Slurm for the remote login's jobs, not for the local user's", async () => {
  const { sshBin, calls } = fakeSsh();
  const client = { remote: { host: "alice01@cluster", stateDir: mkdtempSync(join(tmpdir(), "sp-lookup-state-")), sshBin } };
  expect((await lookupByNames(["run.sp0123456789"], { client, sinceMs: Date.now() - 60_000 })).size).toBe(0);
  await countActive(new Set(["run.sp0123456789"]), client);
  const [squeue, sacct, active] = calls();
  expect(squeue).toMatch(/ squeue -h -t all --me --name=run\.sp0123456789 /);
  expect(sacct).toMatch(/ sacct -X -n -P --name=run\.sp0123456789 /);
  expect(active).toMatch(/ squeue -h --me -o /);
  for (const c of calls()) expect(c).not.toMatch(/ -u /);
});

it("an explicit user still wins", async () => {
  const { sshBin, calls } = fakeSsh();
  const client = { remote: { host: "cluster", stateDir: mkdtempSync(join(tmpdir(), "sp-lookup-state-")), sshBin } };
  await lookupByNames(["run.sp0123456789"], { client, sinceMs: Date.now() - 60_000, user: "bob" });
  expect(calls()[0]).toMatch(/ squeue -h -t all -u bob --name=/);
});
