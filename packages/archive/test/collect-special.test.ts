import { mkdirSync, readFileSync, readdirSync, symlinkSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { execa } from "execa";
import { afterAll, describe, expect, test } from "vitest";
import { archive, cleanup, tempDir, write } from "./helpers.ts";

afterAll(cleanup);

const NOW = "2025-01-01T00:00:00Z";
const SECRET = "-----BEGIN OPENSSH PRIVATE KEY----- not for publishing";
const checks = (records: Record<string, unknown>[]) => records.filter((r) => r.kind === "archive-check");
const paths = (records: Record<string, unknown>[]) => records.filter((r) => r.kind === "archive-entry").map((r) => r.path);

/** A run dir with a regular metrics.csv and a secret file outside it (think ~/.ssh/id_rsa). */
function setup() {
  const root = tempDir();
  const dir = join(root, "run");
  write(join(dir, "metrics.csv"), "step,loss\n1,0.5\n");
  write(join(dir, "checkpoints/epoch3.ckpt"), "weights");
  write(join(root, "home/.ssh/id_rsa"), SECRET);
  mkdirSync(join(root, "logs"));
  const record = (extra: Record<string, unknown> = {}) => JSON.stringify({ id: "r1id", name: "r1", dir, ...extra });
  return { root, dir, secret: join(root, "home/.ssh/id_rsa"), record };
}

/** The archive's stored bytes, all of them, to prove the secret is in none. */
function everything(archiveDir: string): string {
  let all = "";
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else all += p.endsWith(".gz") ? gunzipSync(readFileSync(p)).toString() : readFileSync(p, "utf8");
    }
  };
  walk(archiveDir);
  return all;
}

describe("creating an archive: links and special files are never read blindly", () => {
  test("a log that is a symlink out of the run dir (train.log -> ~/.ssh/id_rsa) is not followed: an error naming it", async () => {
    const { root, secret, record } = setup();
    symlinkSync(secret, join(root, "logs/train.log"));
    const r = await archive({ now: NOW }, { cwd: root, input: record({ logs: { stdout: join(root, "logs/train.log") } }) });
    expect(r.code).toBe(1);
    expect(checks(r.records)).toContainEqual(expect.objectContaining({ problem: "link_outside", severity: "error", path: join(root, "logs/train.log") }));
    expect(r.stderr).toMatch(/logs\/train\.log.*symbolic link.*id_rsa.*not followed/);
    expect(paths(r.records)).toEqual(["runs/r1/checkpoints/epoch3.ckpt", "runs/r1/metrics.csv", "metrics.ndjson", "metrics.csv", "metrics.parquet"]);
    expect(everything(String(r.records.at(-1)!.archive))).not.toContain("OPENSSH");
  });

  test("a file in the run dir that links outside it, and a declared output that does, are reported, not archived", async () => {
    const { root, dir, secret, record } = setup();
    symlinkSync(secret, join(dir, "train.log"));
    symlinkSync(secret, join(dir, "best.ckpt"));
    for (const format of ["dir", "tar.gz"] as const) {
      const r = await archive({ now: NOW, format, out: `out-${format}` }, { cwd: root, input: record({ outputs: ["best.ckpt"] }) });
      expect(r.code).toBe(1);
      const problems = checks(r.records).filter((c) => c.problem === "link_outside");
      expect(problems.map((p) => p.path).sort()).toEqual([join(dir, "best.ckpt"), join(dir, "train.log")]);
      expect(paths(r.records)).not.toContain("runs/r1/train.log");
      expect(paths(r.records)).not.toContain("runs/r1/best.ckpt");
    }
  });

  test("a directory link out of the run dir is reported; a link inside it is archived as the file it points to", async () => {
    const { root, dir, record } = setup();
    mkdirSync(join(root, "scratch"));
    write(join(root, "scratch/big.ckpt"), "elsewhere");
    symlinkSync(join(root, "scratch"), join(dir, "scratch"));
    symlinkSync("checkpoints/epoch3.ckpt", join(dir, "latest.ckpt"));
    symlinkSync("checkpoints", join(dir, "ckpt-dir"));
    const r = await archive({ now: NOW }, { cwd: root, input: record() });
    expect(r.code).toBe(1);
    expect(checks(r.records)).toContainEqual(expect.objectContaining({ problem: "link_outside", path: join(dir, "scratch") }));
    expect(paths(r.records)).toContain("runs/r1/latest.ckpt");
    expect(paths(r.records)).not.toContain("runs/r1/ckpt-dir/epoch3.ckpt"); // stored once, under its real path
    expect(paths(r.records).some((p) => String(p).includes("big.ckpt"))).toBe(false);
    const archiveDir = String(r.records.at(-1)!.archive);
    expect(gunzipSync(readFileSync(join(archiveDir, "runs/r1/latest.ckpt.gz"))).toString()).toBe("weights");
  });

  test("FIFOs, sockets and broken links: no hang, each named on stderr", { timeout: 15_000 }, async () => {
    const { root, dir, record } = setup();
    await execa("mkfifo", [join(dir, "pipe"), join(root, "logs/train.out")]);
    const server = createServer();
    await new Promise<void>((ok) => server.listen(join(dir, "sock"), ok));
    symlinkSync(join(root, "nowhere"), join(dir, "broken"));
    try {
      const r = await archive({ now: NOW }, { cwd: root, input: record({ logs: { stdout: join(root, "logs/train.out") } }) });
      const byPath = new Map(checks(r.records).map((c) => [c.path, c]));
      // Found walking the run dir: warnings (nothing to lose); named as the log: an error.
      expect(byPath.get(join(dir, "pipe"))).toMatchObject({ problem: "special_file", severity: "warning" });
      expect(byPath.get(join(dir, "sock"))).toMatchObject({ problem: "special_file", severity: "warning" });
      expect(byPath.get(join(dir, "broken"))).toMatchObject({ problem: "broken_link" });
      expect(byPath.get(join(root, "logs/train.out"))).toMatchObject({ problem: "special_file", severity: "error" });
      expect(r.stderr).toMatch(/logs\/train\.out.*FIFO/);
      expect(r.code).toBe(1);
    } finally {
      server.close();
    }
  });

  test("files given as arguments: a FIFO and a symlink are refused by name", { timeout: 15_000 }, async () => {
    const { root, secret } = setup();
    await execa("mkfifo", [join(root, "pipe")]);
    symlinkSync(secret, join(root, "notes.txt"));
    write(join(root, "real.txt"), "real");
    const r = await archive({ now: NOW, inputs: [join(root, "pipe"), join(root, "notes.txt"), join(root, "real.txt")] }, { cwd: root });
    expect(r.code).toBe(1);
    expect(checks(r.records)).toContainEqual(expect.objectContaining({ problem: "special_file", path: join(root, "pipe") }));
    expect(checks(r.records)).toContainEqual(expect.objectContaining({ problem: "link_outside", path: join(root, "notes.txt") }));
    expect(paths(r.records)).toEqual(["files/real.txt"]);
  });
});
