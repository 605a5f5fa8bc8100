import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { records, runCli } from "../support/cli.ts";

/**
 * State and output directories on a read-only file system (a read-only bind mount, as root; CI
 * runs as root): every command says which directory cannot be written and why, exits 1, and a
 * stream command still emits every record (as an error record).
 */
const base = mkdtempSync(join(tmpdir(), "sp-readonly-"));
const ro = join(base, "ro");
let mounted = false;
let reason = "";

beforeAll(async () => {
  mkdirSync(join(base, "src", "state"), { recursive: true });
  mkdirSync(ro);
  const bind = await execa("mount", ["--bind", join(base, "src"), ro], { reject: false });
  const remount = bind.exitCode === 0 ? await execa("mount", ["-o", "remount,ro,bind", ro], { reject: false }) : bind;
  mounted = remount.exitCode === 0;
  reason = String(remount.stderr).trim() || `mount exited ${remount.exitCode}`;
  if (!mounted) process.stderr.write(`skipping read-only file system tests: cannot make a read-only bind mount (${reason})\n`);
});
afterAll(async () => {
  if (mounted) await execa("umount", [ro], { reject: false });
});

const run = (i: number) => ({ id: `${i.toString(16).padStart(10, "0")}abcdef`, name: `ro${i}`, command: ["true"] });
const input = `${[0, 1, 2].map((i) => JSON.stringify(run(i))).join("\n")}\n`;
const readOnly = /cannot be written \(it is on a read-only file system\)|\(it is on a read-only file system\)/;

describe("directories on a read-only file system", () => {
  it("slurm-submit and slurm-poll: the state directory is named, with why and what to do", async (ctx) => {
    if (!mounted) ctx.skip();
    const submit = await runCli("slurm-submit", ["--state", join(ro, "state")], { input });
    expect(submit.exitCode).toBe(1);
    expect(String(submit.stderr)).toContain(`state directory ${join(ro, "state")} cannot be written (it is on a read-only file system)`);
    expect(String(submit.stderr)).not.toMatch(/\n\s+at |EROFS/);
    const poll = await runCli("slurm-poll", ["--once", "--state", join(ro, "state")], { input: "" });
    expect(poll.exitCode).toBe(1);
    expect(String(poll.stderr)).toMatch(readOnly);
  });

  it("slurm-render: every run becomes an error record naming the file it could not write; none is lost", async (ctx) => {
    if (!mounted) ctx.skip();
    const r = await runCli("slurm-render", ["--profile", "local", "--out", join(ro, "scripts")], { input });
    expect(r.exitCode).toBe(1);
    const out = records(r.stdout) as { name: string; error?: { code: string; message: string } }[];
    expect(out.map((o) => o.name)).toEqual(["ro0", "ro1", "ro2"]);
    for (const o of out) {
      expect(o.error?.code).toBe("write_failed");
      expect(o.error?.message).toMatch(readOnly);
    }
  });

  it("archive: the --out directory is named", async (ctx) => {
    if (!mounted) ctx.skip();
    const results = join(base, "results");
    mkdirSync(results);
    writeFileSync(join(results, "metrics.csv"), "step,loss\n1,2\n");
    const r = await runCli("archive", ["--out", join(ro, "archives"), results]);
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toContain(`--out directory ${join(ro, "archives")} cannot be written (it is on a read-only file system)`);
  });
});
