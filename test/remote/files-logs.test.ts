import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { records, runCli } from "../support/cli.ts";
import { HOSTILE_NAMES } from "./support/hostile.ts";
import { useSshd } from "./support/use-sshd.ts";

// log-parse --remote against a real sshd on 127.0.0.1. HOST is this machine, so the remote report
// can be compared with log-parse's own local report of the same files (same paths): they must be
// equal, while only the bytes appended since the last read cross the connection.
const fx = useSshd();

type Rec = { name: string; report?: { files?: { path: string; refused?: string; exists: boolean; lines?: number }[]; loss?: unknown; failures?: unknown }; error?: { code: string } };

const stateDir = () => fx.stateDir("sp-files-logs-state");

function lossLines(from: number, n: number): string {
  let out = "";
  for (let i = from; i < from + n; i++) out += `step ${i} loss ${(10 / (i + 1)).toFixed(6)} lr 0.001 ${"x".repeat(40)}\n`;
  return out;
}

async function remoteParse(input: string, state: string) {
  const before = fx.sshd.accepted();
  const r = await runCli("log-parse", ["--remote", fx.sshd.host, "--remote-batch-mode", "--state", state, "-v"], { input, env: fx.env() });
  const m = /remote: fetched (\d+) bytes/.exec(String(r.stderr));
  return { ...r, out: records(r.stdout) as Rec[], fetched: m ? Number(m[1]) : -1, connections: fx.sshd.accepted() - before };
}

async function localParse(input: string) {
  const r = await runCli("log-parse", ["--no-csv"], { input });
  return records(r.stdout) as Rec[];
}

const rec = (name: string, stdout: string, dir?: string) => JSON.stringify({ id: `id-${name}`, name, logs: { stdout }, ...(dir ? { dir } : {}) });

describe("log-parse --remote", () => {
  it("reads logs on HOST over one connection, then only the appended bytes; a log truncated, rewritten or replaced is read again whole", async () => {
    const base = mkdtempSync(join(tmpdir(), "sp-files-logs-"));
    chmodSync(base, 0o755);
    const a = join(base, "a.out");
    const b = join(base, "b.out");
    writeFileSync(a, lossLines(0, 20_000)); // ~1.4 MB
    writeFileSync(b, `${lossLines(0, 50)}Traceback (most recent call last):\n  File "train.py", line 3, in <module>\nRuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB\n`);
    const input = `${rec("a", a)}\n${rec("b", b)}\n`;
    const state = stateDir();

    const first = await remoteParse(input, state);
    expect(first.exitCode, String(first.stderr)).toBe(0);
    expect(first.connections).toBe(1);
    expect(first.out).toEqual(await localParse(input));

    // Appended: only the new bytes (and the 4 KiB overlap per log) are fetched.
    const added = lossLines(20_000, 100);
    appendFileSync(a, added);
    const second = await remoteParse(input, state);
    expect(second.out).toEqual(await localParse(input));
    expect(second.fetched).toBeGreaterThanOrEqual(added.length);
    expect(second.fetched).toBeLessThanOrEqual(added.length + 2 * 4096);

    // Truncated and rewritten in place (same inode), longer than before: read again whole.
    const rewritten = lossLines(500, 25_000).replace("step 500 loss", "step 500 LOSS nan");
    truncateSync(a, 0);
    appendFileSync(a, rewritten);
    const third = await remoteParse(input, state);
    expect(third.out).toEqual(await localParse(input));
    expect(third.fetched).toBeGreaterThanOrEqual(rewritten.length);

    // Replaced by another file (a new inode), same length as the copy: read again whole.
    const other = join(base, "a.new");
    writeFileSync(other, rewritten.replace(/lr 0\.001/g, "lr 0.002"));
    renameSync(other, a);
    const fourth = await remoteParse(input, state);
    expect(fourth.out).toEqual(await localParse(input));
    expect(fourth.fetched).toBeGreaterThanOrEqual(rewritten.length);

    // Unchanged: nothing but the overlap crosses.
    const fifth = await remoteParse(input, state);
    expect(fifth.out).toEqual(fourth.out);
    expect(fifth.fetched).toBeLessThanOrEqual(2 * 4096);
  });

  it("only regular files, the same symlink rules as locally: the same report as a local read", async () => {
    const base = mkdtempSync(join(tmpdir(), "sp-files-logs-special-"));
    chmodSync(base, 0o755);
    const run = join(base, "run");
    mkdirSync(join(run, "logs"), { recursive: true });
    writeFileSync(join(run, "logs", "1.out"), lossLines(0, 30));
    writeFileSync(join(base, "secret.txt"), "step 1 loss 0.5\nsomeone else's file\n");
    symlinkSync("1.out", join(run, "logs", "latest.out")); // inside the log's directory: followed
    symlinkSync(join(base, "secret.txt"), join(run, "logs", "outside.out")); // outside: refused
    symlinkSync(join(run, "logs", "1.out"), join(run, "in-run.out")); // inside the run's dir: followed
    await execa("mkfifo", [join(run, "logs", "fifo.out")]);
    symlinkSync("/dev/zero", join(run, "logs", "zero.out"));
    const names = ["latest.out", "outside.out", "fifo.out", "zero.out", "missing.out", "1.out"];
    const input = `${names.map((n) => rec(n.replace(".", "_"), join(run, "logs", n), run)).join("\n")}\n${rec("inrun", join(run, "in-run.out"), run)}\n${rec("dirlog", join(run, "logs"), run)}\n`;
    const r = await remoteParse(input, stateDir());
    const local = await localParse(input);
    expect(r.exitCode).toBe(1);
    expect(r.out.map((x) => [x.name, x.report?.files?.[0]?.refused, x.report?.files?.[0]?.exists, x.error?.code])).toEqual(local.map((x) => [x.name, x.report?.files?.[0]?.refused, x.report?.files?.[0]?.exists, x.error?.code]));
    const refused = Object.fromEntries(r.out.map((x) => [x.name, x.report?.files?.[0]?.refused]));
    expect(refused).toMatchObject({ outside_out: "symlink_outside", fifo_out: "fifo", zero_out: "character_device", dirlog: "directory" });
    // What was read is what a local read says, line for line.
    for (const name of ["latest_out", "1_out", "inrun"]) expect(r.out.find((x) => x.name === name)?.report).toEqual(local.find((x) => x.name === name)?.report);
    expect(JSON.stringify(r.out)).not.toContain("someone else's file");
  });

  it("hostile directory names reach HOST as data: the same report as a local read, nothing runs there", async () => {
    const base = mkdtempSync(join(tmpdir(), "sp-files-logs-hostile-"));
    chmodSync(base, 0o755);
    const lines: string[] = [];
    for (const [i, word] of HOSTILE_NAMES.entries()) {
      const dir = join(base, word);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "x.out"), lossLines(i, 20));
      lines.push(rec(`h${i}`, join(dir, "x.out")));
    }
    const input = `${lines.join("\n")}\n`;
    const r = await remoteParse(input, stateDir());
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(r.connections).toBe(1);
    expect(r.out).toEqual(await localParse(input));
    for (const x of r.out) expect(x.report?.files?.[0]?.lines).toBe(20);
    expect(existsSync(join(fx.home, "PWNED"))).toBe(false);
    expect(existsSync(join(base, "PWNED"))).toBe(false);
  });
});
