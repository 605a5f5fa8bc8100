import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { copyFromRemote } from "../../packages/core/src/remote/copy.ts";
import { packRemoteTar, removeRemoteStage, stageRemoteArchive } from "../../packages/core/src/remote/tar.ts";
import { records, runCli } from "../support/cli.ts";
import { HOSTILE_NAMES } from "./support/hostile.ts";
import { TEST_USER } from "./support/sshd.ts";
import { useSshd } from "./support/use-sshd.ts";

// archive --remote against a real sshd on 127.0.0.1: HOST is this machine, reached as a non-root
// test user, so what tar packed there can be compared byte for byte with the run directories.
const fx = useSshd();
const NOW = "2026-01-02T03:04:05Z";
const STAMP = "20260102T030405Z";

/** A world-readable tree the test user can read, and an output directory it can write. */
function scratch(prefix: string): { base: string; out: string; fetch: string } {
  const base = mkdtempSync(join(tmpdir(), `${prefix}-`));
  chmodSync(base, 0o755);
  const out = join(base, "host-archives");
  mkdirSync(out);
  chmodSync(out, 0o777);
  return { base, out, fetch: mkdtempSync(join(tmpdir(), `${prefix}-fetch-`)) };
}

/** A run directory with a checkpoint, a Lightning metrics.csv, a nested file and an awkward name. */
function makeRun(base: string, dirName: string, i: number): string {
  const dir = join(base, dirName);
  mkdirSync(join(dir, "checkpoints"), { recursive: true });
  mkdirSync(join(dir, "logs"), { recursive: true });
  writeFileSync(join(dir, "checkpoints", "model.ckpt"), randomBytes(64 * 1024 + i));
  writeFileSync(join(dir, "metrics.csv"), `step,train_loss\n0,${1 + i}\n1,${0.5 + i}\n2,${0.25 + i}\n`);
  writeFileSync(join(dir, "logs", "100.out"), `step 0 loss ${1 + i}\n`);
  writeFileSync(join(dir, "config with space.yaml"), `lr: 0.${i + 1}\n`);
  for (const d of [dir, join(dir, "checkpoints"), join(dir, "logs")]) chmodSync(d, 0o755);
  return dir;
}

/** Every regular file under dir, relative, as find lists them (links and special files left out). */
function regularFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

const rec = (name: string, dir: string, extra: Record<string, unknown> = {}) => JSON.stringify({ id: `id-${name}`, name, dir, group: "sweep", ...extra });

type Out = { kind?: string; path?: string; problem?: string; message?: string; archive?: string; fetched?: string; verified?: boolean; archive_sha256?: string; archive_size?: number };

async function archiveRemote(args: string[], input: string, options: { state?: string; host?: string } = {}) {
  const state = options.state ?? fx.stateDir("sp-archive-remote-state");
  const before = fx.sshd.accepted();
  const r = await runCli("archive", ["--remote", options.host ?? fx.sshd.host, "--remote-batch-mode", "--state", state, "--now", NOW, ...args], { input, env: fx.env() });
  return { ...r, state, out: records(r.stdout) as Out[], connections: fx.sshd.accepted() - before };
}

async function tarList(path: string): Promise<string[]> {
  // No name here holds a newline (run names are sanitised, the files are the test's).
  return (await execa("tar", ["-tf", path])).stdout.split("\n").filter(Boolean).sort();
}

describe("archive --remote", () => {
  it("packs the run directories on HOST over one connection: exactly their files, byte for byte; --fetch brings back the same bytes, verified", async () => {
    const { base, out, fetch } = scratch("sp-archive-remote");
    const dirs = [makeRun(base, "run-a", 0), makeRun(base, "run-b", 1)];
    symlinkSync("metrics.csv", join(dirs[0]!, "latest.csv")); // a link: never followed on HOST
    const input = `${rec("lr0.1", dirs[0]!)}\n${rec("lr0.2", dirs[1]!)}\n`;
    const r = await archiveRemote(["--out", out, "--fetch", fetch, "--verify-after"], input);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(r.connections).toBe(1);
    const name = `sweep-${STAMP}.tar.gz`;
    const onHost = join(out, name);
    const summary = r.out.find((x) => x.kind === "archive-summary")!;
    expect(summary).toMatchObject({ archive: onHost, fetched: join(fetch, name), verified: true });
    // Written on HOST by the ssh user; nothing else left in --out (no stage, no partial file).
    expect(statSync(onHost).uid).toBe(Number((await execa("id", ["-u", TEST_USER])).stdout));
    expect(readdirSync(out)).toEqual([name]);
    expect(readdirSync(fetch)).toEqual([name]);
    // The fetched metric files were kept in the state directory only while the dataset was built.
    expect(readdirSync(join(r.state, "archive"))).toEqual([]);
    expect(r.out.find((x) => x.problem === "link_not_followed")?.path).toBe(join(dirs[0]!, "latest.csv"));

    // Exactly the run directories' regular files, and the archive's own files; the same bytes.
    const expected = ["lr0.1", "lr0.2"].flatMap((n, i) => regularFiles(dirs[i]!).map((f) => `runs/${n}/${f}`));
    const own = ["MANIFEST.ndjson", "SHA256SUMS", "metrics.csv", "metrics.ndjson", "metrics.parquet"];
    expect(await tarList(onHost)).toEqual([...expected, ...own].sort());
    const x = mkdtempSync(join(tmpdir(), "sp-archive-remote-x-"));
    await execa("tar", ["-xzf", onHost, "-C", x]);
    for (const [i, n] of ["lr0.1", "lr0.2"].entries()) {
      for (const f of regularFiles(dirs[i]!)) expect(readFileSync(join(x, "runs", n, f)).equals(readFileSync(join(dirs[i]!, f))), f).toBe(true);
    }
    // The dataset is the one a local archive of the same runs builds, byte for byte.
    const localOut = mkdtempSync(join(tmpdir(), "sp-archive-remote-local-"));
    const here = await runCli("archive", ["--now", NOW, "--out", localOut], { input });
    expect(here.exitCode, String(here.stderr)).toBe(0);
    expect(readFileSync(join(x, "metrics.csv"), "utf8")).toContain("lr0.2");
    for (const f of ["metrics.csv", "metrics.ndjson", "metrics.parquet"]) expect(readFileSync(join(x, f)).equals(readFileSync(join(localOut, `sweep-${STAMP}`, f))), f).toBe(true);
    // And the manifest's sha256 and size of every run file (computed on HOST) are the local archive's.
    const mine = new Map((records(here.stdout) as (Out & { sha256?: string; size?: number })[]).filter((e) => e.kind === "archive-entry").map((e) => [e.path, [e.sha256, e.size]]));
    const theirs = (r.out as (Out & { sha256?: string; size?: number })[]).filter((e) => e.kind === "archive-entry" && e.path!.startsWith("runs/"));
    expect(theirs.length).toBe(expected.length);
    for (const e of theirs) expect([e.sha256, e.size], e.path).toEqual(mine.get(e.path));
    // The manifest's entries are the records on stdout, with HOST's sha256 of each file.
    const entries = r.out.filter((e) => e.kind === "archive-entry");
    expect(entries.map((e) => e.path).sort()).toEqual([...expected, "metrics.csv", "metrics.ndjson", "metrics.parquet"].sort());

    // The fetched copy is the same file; the local archive command verifies it, and SHA256SUMS checks.
    const fetched = readFileSync(join(fetch, name));
    expect(fetched.equals(readFileSync(onHost))).toBe(true);
    expect(summary.archive_size).toBe(fetched.length);
    const v = await runCli("archive", ["--verify", join(fetch, name)]);
    expect(v.exitCode, String(v.stderr)).toBe(0);
    await execa("sha256sum", ["-c", "--quiet", "SHA256SUMS"], { cwd: x });
    const to = join(mkdtempSync(join(tmpdir(), "sp-archive-remote-to-")), "restored");
    const restored = await runCli("archive", ["--restore", join(fetch, name), "--to", to]);
    expect(restored.exitCode, String(restored.stderr)).toBe(0);
    expect(readFileSync(join(to, "runs", "lr0.2", "checkpoints", "model.ckpt")).equals(readFileSync(join(dirs[1]!, "checkpoints", "model.ckpt")))).toBe(true);

    // Again at the same time: the archive exists on HOST and is not overwritten.
    const again = await archiveRemote(["--out", out], input);
    expect(again.exitCode).toBe(1);
    expect(String(again.stderr)).toContain("already exists; not overwritten");
    expect(readFileSync(onHost).equals(fetched)).toBe(true);
    expect(readdirSync(out)).toEqual([name]);
  });

  it("SLURMPIPE_REMOTE names HOST as --remote does; a relative --out is read from the login directory there", async () => {
    const { base } = scratch("sp-archive-remote-rel");
    const rel = `sp-archive-remote-${process.pid}`;
    const state = fx.stateDir("sp-archive-remote-env-state");
    const before = fx.sshd.accepted();
    const r = await runCli("archive", ["--remote-batch-mode", "--state", state, "--now", NOW, "--out", rel], { input: `${rec("a", makeRun(base, "a", 0))}\n`, env: { ...fx.env(), SLURMPIPE_REMOTE: fx.sshd.host } });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(fx.sshd.accepted() - before).toBe(1);
    const archive = (records(r.stdout) as Out[]).find((x) => x.kind === "archive-summary")!.archive!;
    expect(archive).toBe(join(fx.home, rel, `sweep-${STAMP}.tar.gz`));
    expect(existsSync(archive)).toBe(true);
    expect(existsSync(join(process.cwd(), rel))).toBe(false);
    rmSync(join(fx.home, rel), { recursive: true, force: true });
  });

  it("hostile run and directory names reach HOST as data: each run is archived, nothing runs there", async () => {
    const { base, out } = scratch("sp-archive-remote-hostile");
    const hostileOut = join(out, "$(touch PWNED)");
    const lines = HOSTILE_NAMES.map((word, i) => rec(word, makeRun(base, word, i)));
    const r = await archiveRemote(["--out", hostileOut, "--name", "a;touch PWNED"], `${lines.join("\n")}\n`);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(r.connections).toBe(1);
    const summary = r.out.find((x) => x.kind === "archive-summary")!;
    expect(summary.archive).toBe(join(hostileOut, `a_touch_PWNED-${STAMP}.tar.gz`));
    const names = await tarList(summary.archive!);
    // Each hostile directory was read on HOST as named: its files are the manifest's sources.
    const sources = new Set(r.out.filter((e) => e.kind === "archive-entry").map((e) => (e as { source?: string }).source));
    for (const word of HOSTILE_NAMES) expect(sources.has(join(base, word, "checkpoints", "model.ckpt")), JSON.stringify(word)).toBe(true);
    expect(names.filter((n) => n.endsWith("/checkpoints/model.ckpt"))).toHaveLength(HOSTILE_NAMES.length);
    for (const where of [fx.home, base, out, process.cwd()]) expect(existsSync(join(where, "PWNED")), where).toBe(false);
  });

  it("hostile file names inside a run directory: archived as named, the fetched copy verifies (a backslash or newline in a name is refused), nothing runs on HOST", async () => {
    const { base, out, fetch } = scratch("sp-archive-remote-hostile-files");
    const dir = makeRun(base, "r", 0);
    mkdirSync(join(dir, "files"));
    chmodSync(join(dir, "files"), 0o755);
    for (const word of HOSTILE_NAMES) writeFileSync(join(dir, "files", word), `${word}\n`);
    const r = await archiveRemote(["--out", out, "--fetch", fetch, "--verify-after"], `${rec("r", dir)}\n`);
    expect(r.exitCode).toBe(1);
    // Refused: what is not an archive path (a backslash) or cannot be a SHA256SUMS line (a newline).
    const errors = r.out.filter((x) => x.kind === "archive-check" && (x as { severity?: string }).severity === "error");
    expect(errors.map((x) => [x.problem, x.path]).sort()).toEqual([["unsafe_path", join(dir, "files", "back\\slash")], ["unsafe_path", join(dir, "files", "x\ny")]]);
    const archived = new Set(r.out.filter((e) => e.kind === "archive-entry").map((e) => e.path));
    const kept = HOSTILE_NAMES.filter((w) => !/[\\\n]/.test(w));
    expect(kept).toHaveLength(HOSTILE_NAMES.length - 2);
    for (const word of kept) expect(archived.has(`runs/r/files/${word}`), JSON.stringify(word)).toBe(true);
    const summary = r.out.find((x) => x.kind === "archive-summary")!;
    expect(summary.verified, String(r.stderr)).toBe(true);
    for (const where of [fx.home, base, out, dir, process.cwd()]) expect(existsSync(join(where, "PWNED")), where).toBe(false);
  });

  it("a run directory missing on HOST stops the archive (exit 1, missing_dir naming the host) unless --allow-missing; --check-only writes nothing, declared outputs checked; --exclude, tar.zst", async () => {
    const { base, out } = scratch("sp-archive-remote-missing");
    const complete = `${rec("here", makeRun(base, "here", 0), { outputs: ["checkpoints/*.ckpt"] })}\n`;
    const fine = await archiveRemote(["--out", out, "--check-only"], complete);
    expect(fine.exitCode, String(fine.stderr)).toBe(0);
    expect(fine.out).toEqual([]);
    const incomplete = await archiveRemote(["--out", out, "--check-only"], `${rec("here", join(base, "here"), { outputs: ["checkpoints/*.ckpt", "final.pt"] })}\n`);
    expect(incomplete.exitCode).toBe(1);
    expect(incomplete.out.map((x) => [x.problem, (x as { pattern?: string }).pattern])).toEqual([["missing_output", "final.pt"]]);
    const input = `${complete}${rec("gone", join(base, "gone"))}\n`;
    const check = await archiveRemote(["--out", out, "--check-only"], input);
    expect(check.exitCode).toBe(1);
    const missing = check.out.find((x) => x.problem === "missing_dir")!;
    expect(missing.message).toBe(`run directory ${join(base, "gone")} does not exist on ${fx.sshd.host}`);
    const stopped = await archiveRemote(["--out", out], input);
    expect(stopped.exitCode).toBe(1);
    expect(String(stopped.stderr)).toContain("not archiving");
    expect(readdirSync(out)).toEqual([]);
    writeFileSync(join(base, "here", "checkpoints", "optimizer.state"), "x");
    const allowed = await archiveRemote(["--out", out, "--allow-missing", "--exclude", "checkpoints/**", "--format", "tar.zst", "--level", "5"], input);
    expect(allowed.exitCode, String(allowed.stderr)).toBe(0);
    const zst = join(out, `sweep-${STAMP}.tar.zst`);
    expect(readFileSync(zst).subarray(0, 4).toString("hex")).toBe("28b52ffd"); // zstd's magic number
    expect((await runCli("archive", ["--verify", zst])).exitCode).toBe(0);
    const names = await tarList(zst);
    // --exclude left out the other files under checkpoints/, not the declared output (as locally).
    expect(names.filter((n) => n.startsWith("runs/"))).toEqual(["runs/here/checkpoints/model.ckpt", "runs/here/config with space.yaml", "runs/here/logs/100.out", "runs/here/metrics.csv"]);
  });

  it("HOST unreachable, --out not writable there, a --fetch target that exists: a clear error, non-zero exit, nothing left behind or replaced", async () => {
    const { base, out, fetch } = scratch("sp-archive-remote-fail");
    const input = `${rec("a", makeRun(base, "a", 0))}\n`;
    const closed = fx.sshd.host.replace(/:\d+$/, ":1");
    const down = await archiveRemote(["--out", out, "--fetch", fetch], input, { host: closed });
    expect(down.exitCode).toBe(1);
    expect(String(down.stderr)).toMatch(new RegExp(`cannot list the run directories on ${closed.replace(/[.]/g, "\\.")}: ssh: connect to host 127\\.0\\.0\\.1 port 1: Connection refused`));
    expect(readdirSync(fetch)).toEqual([]);
    expect(readdirSync(out)).toEqual([]);
    // A file already where --fetch would put the copy: refused before anything is packed on HOST.
    writeFileSync(join(fetch, `sweep-${STAMP}.tar.gz`), "mine\n");
    const taken = await archiveRemote(["--out", out, "--fetch", fetch], input);
    expect(taken.exitCode).toBe(1);
    expect(String(taken.stderr)).toContain(`${join(fetch, `sweep-${STAMP}.tar.gz`)} already exists; not overwritten`);
    expect(readFileSync(join(fetch, `sweep-${STAMP}.tar.gz`), "utf8")).toBe("mine\n");
    expect(readdirSync(out)).toEqual([]);
    // A --fetch directory that cannot be made: refused before anything is packed on HOST.
    writeFileSync(join(base, "a-file"), "");
    const badFetch = await archiveRemote(["--out", out, "--fetch", join(base, "a-file", "sub")], input);
    expect(badFetch.exitCode).not.toBe(0);
    expect(String(badFetch.stderr)).toContain(`--fetch directory ${join(base, "a-file", "sub")} cannot be written`);
    expect(readdirSync(out)).toEqual([]);
    const rootOnly = join(base, "root-only");
    mkdirSync(rootOnly, { mode: 0o755 });
    const ro = await archiveRemote(["--out", join(rootOnly, "archives")], input);
    expect(ro.exitCode).toBe(1);
    expect(String(ro.stderr)).toContain(`cannot write in ${join(rootOnly, "archives")} on ${fx.sshd.host}`);
    expect(readdirSync(rootOnly)).toEqual([]);
  });

  it("a copy whose size or sha256 is not what HOST computed is not kept (core's copyFromRemote)", async () => {
    const { base, fetch } = scratch("sp-archive-remote-copy");
    const file = join(base, "file.bin");
    const bytes = randomBytes(300_000);
    writeFileSync(file, bytes);
    chmodSync(file, 0o644);
    const remote = { host: fx.sshd.host, stateDir: fx.stateDir("sp-archive-remote-copy-state"), batchMode: true, sshBin: fx.sshd.sshBin };
    const sha = (await execa("sha256sum", [file])).stdout.slice(0, 64);
    const wrong = await copyFromRemote(file, join(fetch, "a.bin"), { size: bytes.length, sha256: "0".repeat(64) }, remote);
    expect(wrong).toMatchObject({ kind: "failed", connection: false });
    expect(wrong.kind === "failed" && wrong.message).toContain("differs from the file there");
    const short = await copyFromRemote(file, join(fetch, "b.bin"), { size: bytes.length + 1, sha256: sha }, remote);
    expect(short.kind).toBe("failed");
    expect(readdirSync(fetch)).toEqual([]);
    const ok = await copyFromRemote(file, join(fetch, "c.bin"), { size: bytes.length, sha256: sha }, remote);
    expect(ok).toEqual({ kind: "ok", path: join(fetch, "c.bin"), size: bytes.length, sha256: sha });
    expect(readFileSync(join(fetch, "c.bin")).equals(bytes)).toBe(true);
    expect(readdirSync(fetch)).toEqual(["c.bin"]);
    expect(await copyFromRemote(file, join(fetch, "c.bin"), { size: bytes.length, sha256: sha }, remote)).toEqual({ kind: "exists", path: join(fetch, "c.bin") });
    const gone = await copyFromRemote(join(base, "nope"), join(fetch, "d.bin"), { size: 0, sha256: sha }, remote);
    expect(gone.kind === "failed" && gone.message).toContain("No such file");
    expect(readdirSync(fetch)).toEqual(["c.bin"]);
  });

  it("a file gone between the listing and tar: packing fails naming it, no tarball, no partial file (core's packRemoteTar)", async () => {
    const { base, out } = scratch("sp-archive-remote-gone");
    const dir = makeRun(base, "r", 0);
    const remote = { host: fx.sshd.host, stateDir: fx.stateDir("sp-archive-remote-gone-state"), batchMode: true, sshBin: fx.sshd.sshBin };
    const staged = await stageRemoteArchive({ out, name: "x.tar.gz", links: [{ path: "runs/r", target: dir }] }, remote);
    if (staged.kind !== "ok") throw new Error(JSON.stringify(staged));
    const packed = await packRemoteTar({ stage: staged.stage, out: staged.out, name: "x.tar.gz", format: "tar.gz", level: 1, paths: ["runs/r/metrics.csv", "runs/r/vanished.pt"] }, remote);
    await removeRemoteStage(staged.stage, staged.out, remote);
    expect(packed.kind).toBe("failed");
    expect(packed.kind === "failed" && packed.message).toMatch(/runs\/r\/vanished\.pt: Cannot stat: No such file or directory/);
    expect(readdirSync(out)).toEqual([]);
  });

  it("what --remote cannot do is a usage error (exit 2) naming the option", async () => {
    const { base } = scratch("sp-archive-remote-usage");
    const input = `${rec("a", makeRun(base, "a", 0))}\n`;
    for (const [args, word] of [
      [["--verify", "x.tar.gz"], "--verify"],
      [["--restore", "x.tar.gz", "--to", "y"], "--restore"],
      [["--incremental"], "--incremental"],
      [["--prune-sources"], "--prune-sources"],
      [["--outputs-only"], "--outputs-only"],
      [["--log-base", "/x"], "--log-base"],
      [["--compress-over", "1G"], "--compress-over"],
      [["--format", "dir"], "--format dir"],
      [["--verify-after"], "--fetch"],
      [[base], base],
    ] as const) {
      const r = await archiveRemote([...args], input);
      expect(r.exitCode, args.join(" ")).toBe(2);
      expect(String(r.stderr)).toContain(word);
      expect(r.connections).toBe(0);
    }
    const noRemote = await runCli("archive", ["--fetch", base], { input });
    expect(noRemote.exitCode).toBe(2);
    expect(String(noRemote.stderr)).toContain("--fetch copies an archive made on HOST: it goes with --remote HOST");
  });
});
