import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { records, repoRoot, runCli } from "../support/cli.ts";
import { describeSlurm, requireCluster } from "../support/slurm.ts";
import { HOSTILE_NAMES } from "./support/hostile.ts";
import { TEST_USER } from "./support/sshd.ts";
import { useSshd } from "./support/use-sshd.ts";

// slurm-render --remote against a real sshd on 127.0.0.1: the scripts are written on HOST (by the
// test user, through one ssh connection per command run), at the paths the records name.
const fx = useSshd();
const env = () => fx.env();
const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
const uid = async () => Number((await execa("id", ["-u", TEST_USER])).stdout);

async function specs(n: number): Promise<string> {
  const r = await execa("node", [join(repoRoot, "packages/sweep-gen/dist/cli.mjs"), join(repoRoot, "examples/demo.yaml"), "-p", "train=/opt/train.py"]);
  return `${r.stdout.split("\n").slice(0, n).join("\n")}\n`;
}

/** One render, on a fresh state directory (so a fresh ssh connection): its records and the connections sshd accepted. */
async function renderRemote(args: string[], input: string) {
  const state = fx.stateDir("sp-files-render-state");
  const before = fx.sshd.accepted();
  const r = await runCli("slurm-render", ["--profile", "local", "--remote", fx.sshd.host, "--remote-batch-mode", "--state", state, ...args], { input, env: env() });
  return { ...r, state, out: records(r.stdout) as { name: string; script?: { path: string; sha256: string; array?: unknown }; logs?: { stdout: string }; error?: { code: string; message: string } }[], connections: fx.sshd.accepted() - before };
}

describe("slurm-render --remote", () => {
  it("writes each script on HOST at the path its record names, over one connection; unchanged runs are kept, changed ones go beside", async () => {
    const base = mkdtempSync(join(tmpdir(), "sp-files-render-"));
    chmodSync(base, 0o777);
    const input = await specs(3);
    const first = await renderRemote(["--out", join(base, "runs")], input);
    expect(first.exitCode, String(first.stderr)).toBe(0);
    expect(first.connections).toBe(1);
    expect(first.out).toHaveLength(3);
    const local = mkdtempSync(join(tmpdir(), "sp-files-render-local-"));
    const here = records((await runCli("slurm-render", ["--profile", "local", "--out", join(local, "runs")], { input })).stdout) as typeof first.out;
    for (const [i, r] of first.out.entries()) {
      const path = r.script!.path;
      expect(path).toBe(join(base, "runs", r.name, "job.sbatch"));
      // Written on HOST by the ssh user, byte for byte what the record's sha256 says, its logs/ beside it.
      expect(statSync(path).uid).toBe(await uid());
      expect(sha(path)).toBe(r.script!.sha256);
      expect(statSync(join(base, "runs", r.name, "logs")).isDirectory()).toBe(true);
      // The same script and mode a local render writes; the paths differ only in --out and in the
      // directory relative run dirs are read from (HOST's login directory, not this one).
      const mine = readFileSync(here[i]!.script!.path, "utf8").split(join(local, "runs")).join(join(base, "runs")).split(`${process.cwd()}/`).join(`${fx.home}/`);
      expect(readFileSync(path, "utf8")).toBe(mine);
      expect(statSync(path).mode & 0o777).toBe(statSync(here[i]!.script!.path).mode & 0o777);
      // No temporary file is left behind.
      expect(readdirSync(join(base, "runs", r.name)).sort()).toEqual(["job.sbatch", "logs"]);
    }
    const mtime = statSync(first.out[0]!.script!.path).mtimeMs;
    // Rendering again from the record writes on HOST again (its rendered_with names --remote).
    expect((first.out[0] as { script: { rendered_with?: { args: string[] } } }).script.rendered_with?.args).toEqual(expect.arrayContaining([`--out=${join(base, "runs")}`, `--remote=${fx.sshd.host}`]));

    // Again unchanged: same paths, files untouched.
    const again = await renderRemote(["--out", join(base, "runs")], input);
    expect(again.out.map((r) => r.script!.path)).toEqual(first.out.map((r) => r.script!.path));
    expect(statSync(first.out[0]!.script!.path).mtimeMs).toBe(mtime);

    // Changed: never replaced, written beside as job.<sha256 prefix>.sbatch, which the record names.
    const changed = await renderRemote(["--out", join(base, "runs"), "--time", "00:20:00"], input);
    expect(changed.exitCode, String(changed.stderr)).toBe(0);
    for (const [i, r] of changed.out.entries()) {
      expect(r.script!.path).toBe(join(base, "runs", r.name, `job.${r.script!.sha256.slice(0, 8)}.sbatch`));
      expect(sha(r.script!.path)).toBe(r.script!.sha256);
      expect(sha(first.out[i]!.script!.path)).toBe(first.out[i]!.script!.sha256);
    }

    // Both names taken by other content: the record fails (script_exists), nothing is replaced, no temporary file is left.
    const one = first.out[0]!;
    const dir = join(base, "runs", one.name);
    const taken = await renderRemote(["--out", join(base, "runs"), "--time", "00:30:00"], await specs(1));
    const alt = taken.out[0]!.script!.path;
    writeFileSync(alt, "#!/bin/bash\necho someone else's\n");
    const clash = await renderRemote(["--out", join(base, "runs"), "--time", "00:30:00"], await specs(1));
    expect(clash.exitCode).toBe(1);
    expect(clash.out[0]!.error?.code).toBe("script_exists");
    expect(readFileSync(alt, "utf8")).toBe("#!/bin/bash\necho someone else's\n");
    expect(sha(one.script!.path)).toBe(one.script!.sha256);
    expect(readdirSync(dir).filter((f) => f.includes("slurmpipe-upload"))).toEqual([]);
  });

  it("relative --out is read from the login directory on HOST", async () => {
    const input = await specs(1);
    const rel = `sp-files-render-${process.pid}`;
    const r = await renderRemote(["--out", rel], input);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(r.out[0]!.script!.path).toBe(join(fx.home, rel, r.out[0]!.name, "job.sbatch"));
    expect(existsSync(r.out[0]!.script!.path)).toBe(true);
    expect(r.out[0]!.logs!.stdout.startsWith(join(fx.home, rel, r.out[0]!.name, "logs"))).toBe(true);
  });

  it("--array: the table and the array script are uploaded; the script names the table's remote path", async () => {
    const base = mkdtempSync(join(tmpdir(), "sp-files-render-array-"));
    chmodSync(base, 0o777);
    const r = await renderRemote(["--out", base, "--array", "--max-array-size", "50"], await specs(4));
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const path = r.out[0]!.script!.path;
    expect(path.startsWith(`${base}/`)).toBe(true);
    expect(sha(path)).toBe(r.out[0]!.script!.sha256);
    expect(statSync(path).uid).toBe(await uid());
    expect(readFileSync(path, "utf8")).toContain(join(path, "..", "params.tbl"));
    expect(existsSync(join(path, "..", "params.tbl"))).toBe(true);
  });

  it("hostile --out directories: what a local render writes is written on HOST as named, what it refuses is refused alike; nothing runs on HOST", async () => {
    const base = mkdtempSync(join(tmpdir(), "sp-files-render-hostile-"));
    chmodSync(base, 0o777);
    const localBase = mkdtempSync(join(tmpdir(), "sp-files-render-hostile-local-"));
    const input = await specs(1);
    let written = 0;
    for (const word of HOSTILE_NAMES) {
      const out = join(base, word);
      const r = await renderRemote(["--out", out], input);
      const here = records((await runCli("slurm-render", ["--profile", "local", "--out", join(localBase, word)], { input })).stdout) as typeof r.out;
      expect(r.out[0]!.error?.code, JSON.stringify(word)).toBe(here[0]!.error?.code);
      if (here[0]!.error) continue;
      written += 1;
      expect(r.exitCode, `${JSON.stringify(word)}: ${r.stderr}`).toBe(0);
      expect(r.out[0]!.script!.path).toBe(join(out, r.out[0]!.name, "job.sbatch"));
      expect(sha(r.out[0]!.script!.path)).toBe(r.out[0]!.script!.sha256);
    }
    // Most of the corpus is a valid directory name (only what #SBATCH cannot hold, `$`, is refused).
    expect(written).toBeGreaterThan(HOSTILE_NAMES.length / 2);
    expect(existsSync(join(fx.home, "PWNED"))).toBe(false);
    expect(existsSync(join(base, "PWNED"))).toBe(false);
    expect(existsSync(join(process.cwd(), "PWNED"))).toBe(false);
  });

  it("a directory HOST cannot write fails each run with a clear error naming the host, the stream goes on", async () => {
    const base = mkdtempSync(join(tmpdir(), "sp-files-render-ro-"));
    chmodSync(base, 0o755); // root's: the ssh user cannot write in it
    const r = await renderRemote(["--out", join(base, "runs")], await specs(2));
    expect(r.exitCode).toBe(1);
    expect(r.out).toHaveLength(2);
    for (const rec of r.out) {
      expect(rec.error?.code).toBe("write_failed");
      expect(rec.error?.message).toContain(fx.sshd.host);
    }
    expect(readdirSync(base)).toEqual([]);
  });
});

describeSlurm("slurm-render --remote | slurm-submit --remote against the real local Slurm", () => {
  it("slurm-submit submits the uploaded script at the remote path the record names; the job writes its log beside it", async () => {
    requireCluster();
    const base = mkdtempSync(join(tmpdir(), "sp-files-render-submit-"));
    chmodSync(base, 0o777);
    const grid = join(base, "grid.yaml");
    writeFileSync(grid, 'command: [sh, -c, "echo remote-hello-$0", "{x}"]\ngrid:\n  x: [1, 2]\n');
    const input = (await execa("node", [join(repoRoot, "packages/sweep-gen/dist/cli.mjs"), grid])).stdout;
    const rendered = await renderRemote(["--out", join(base, "runs")], `${input}\n`);
    expect(rendered.exitCode, String(rendered.stderr)).toBe(0);
    const state = rendered.state;
    const before = fx.sshd.accepted();
    const sub = await runCli("slurm-submit", ["--state", state, "--remote", fx.sshd.host, "--remote-batch-mode"], { input: String(rendered.stdout), env: env() });
    expect(sub.exitCode, String(sub.stderr)).toBe(0);
    // The connection slurm-render opened (same --state) carries slurm-submit's calls too.
    expect(fx.sshd.accepted() - before).toBe(0);
    const submitted = records(sub.stdout) as { job: { id: string; argv: string[] }; script: { path: string } }[];
    const ids = submitted.map((r) => r.job.id);
    try {
      for (const r of submitted) expect(r.job.argv).toContain(r.script.path);
      const poll = await runCli("slurm-poll", ["--state", state, "--remote", fx.sshd.host, "--remote-batch-mode", "--interval", "2s", "--timeout", "120s"], { input: String(sub.stdout), env: env() });
      expect(poll.exitCode, String(poll.stderr)).toBe(0);
      for (const [i, r] of submitted.entries()) {
        const log = join(r.script.path, "..", "logs", `${r.job.id}.out`);
        expect(readFileSync(log, "utf8")).toContain(`remote-hello-${i + 1}`);
      }
    } finally {
      await execa("scancel", ids, { reject: false });
    }
  });
});
