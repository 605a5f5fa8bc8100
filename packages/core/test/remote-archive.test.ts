import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { copyFromRemote, listRemoteTrees, packRemoteTar, removeRemoteStage, stageRemoteArchive } from "../src/index.ts";

// What archive --remote runs on HOST (remote/tree.ts, tar.ts, copy.ts), through a stand-in for
// ssh + sshd that runs the remote command line with dash -c, as a POSIX login shell would.
const NASTY = ["$(touch PWNED)", "`touch PWNED`", "it's", 'say "hi"', "a;touch PWNED", "x\ny", " lead", "#hash", "back\\slash", "*", "~", "$HOME", "tab\there", "!event", "-oProxyCommand=touch PWNED", "'; touch PWNED; '"];

/** bash's "the last argument" (the remote command line); a plain string, not a template. */
const LAST_ARG = ["$", "{@: -1}"].join("");

function fakeSsh(body = `exec dash -c "${LAST_ARG}"`): { bin: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "sp-remote-archive-"));
  const bin = join(dir, "ssh");
  writeFileSync(bin, `#!/bin/bash\ncd ${dir}\n${body}\n`);
  chmodSync(bin, 0o755);
  return { bin, dir };
}

const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

describe("listRemoteTrees", () => {
  it("lists every non-directory entry of each tree with its kind, size, mtime, mode and sha256; a missing tree is missing; hostile names are data", async () => {
    const ssh = fakeSsh();
    const opts = { host: "box", stateDir: join(ssh.dir, "st"), sshBin: ssh.bin };
    const base = mkdtempSync(join(tmpdir(), "sp-tree-"));
    const dirs: string[] = [];
    for (const word of NASTY) {
      const d = join(base, word);
      mkdirSync(join(d, "sub"), { recursive: true });
      writeFileSync(join(d, "sub", word), word);
      dirs.push(d);
    }
    const first = dirs[0]!;
    writeFileSync(join(first, "a.bin"), Buffer.alloc(1000, 7));
    chmodSync(join(first, "a.bin"), 0o640);
    utimesSync(join(first, "a.bin"), 1_700_000_000.123, 1_700_000_000.123);
    symlinkSync("/etc/passwd", join(first, "link"));
    await execa("mkfifo", [join(first, "fifo")]);
    const r = await listRemoteTrees([...dirs, join(base, "gone"), ""], opts, { hash: true });
    if (!r.ok) throw new Error(r.message);
    expect(r.trees).toHaveLength(NASTY.length + 2);
    expect(r.trees.slice(-2).map((t) => t.kind)).toEqual(["missing", "missing"]);
    for (const [i, word] of NASTY.entries()) {
      const t = r.trees[i]!;
      if (t.kind !== "ok") throw new Error(`${word}: missing`);
      expect(t.realDir).toBe(dirs[i]);
      expect(t.entries.find((e) => e.rel === `sub/${word}`)).toMatchObject({ type: "file", size: Buffer.byteLength(word), sha256: sha(word) });
    }
    const t0 = r.trees[0]!;
    if (t0.kind !== "ok") throw new Error("missing");
    const by = Object.fromEntries(t0.entries.map((e) => [e.rel, e]));
    expect(by["a.bin"]).toEqual({ rel: "a.bin", type: "file", size: 1000, mtimeMs: Math.floor(statSync(join(first, "a.bin")).mtimeMs), mode: 0o640, sha256: sha(Buffer.alloc(1000, 7)) });
    expect(by.link).toMatchObject({ type: "symlink" });
    expect(by.link!.sha256).toBeUndefined();
    expect(by.fifo).toMatchObject({ type: "fifo" });
    expect(readdirSync(ssh.dir)).not.toContain("PWNED");
    expect(readdirSync(base)).not.toContain("PWNED");
  });

  it("a listing cut short (the connection dropped) is a failure, never a shorter tree", async () => {
    const ssh = fakeSsh("printf 'D\\t0\\tok\\t/x\\0F\\tf\\t1\\t1.0\\t644\\ta\\0'; echo 'Connection reset by peer' >&2; exit 255");
    const r = await listRemoteTrees(["/x"], { host: "box", stateDir: join(ssh.dir, "st"), sshBin: ssh.bin }, { hash: false });
    expect(r).toEqual({ ok: false, message: "cannot list the run directories on box: Connection reset by peer", connection: true });
  });
});

describe("stageRemoteArchive, packRemoteTar, copyFromRemote", () => {
  it("packs exactly the listed paths through the stage, never over an existing archive, and copies it back verified", async () => {
    const ssh = fakeSsh();
    const opts = { host: "box", stateDir: join(ssh.dir, "st"), sshBin: ssh.bin };
    const base = mkdtempSync(join(tmpdir(), "sp-pack-"));
    const run = join(base, "$(touch PWNED) run");
    mkdirSync(join(run, "d"), { recursive: true });
    writeFileSync(join(run, "d", "keep.txt"), "keep\n");
    writeFileSync(join(run, "not-listed.txt"), "no\n");
    const out = join(base, "out 'x'");
    const staged = await stageRemoteArchive({ out, name: "a.tar.gz", links: [{ path: "runs/r", target: run }] }, opts);
    if (staged.kind !== "ok") throw new Error(JSON.stringify(staged));
    expect(staged.out).toBe(out);
    expect(staged.stage.startsWith(`${out}/.a.tar.gz.stage.`)).toBe(true);
    writeFileSync(join(staged.stage, "MANIFEST.ndjson"), "{}\n");
    const packed = await packRemoteTar({ stage: staged.stage, out: staged.out, name: "a.tar.gz", format: "tar.gz", level: 6, paths: ["runs/r/d/keep.txt", "MANIFEST.ndjson"] }, opts);
    await removeRemoteStage(staged.stage, staged.out, opts);
    if (packed.kind !== "ok") throw new Error(JSON.stringify(packed));
    const archive = join(out, "a.tar.gz");
    expect(packed).toEqual({ kind: "ok", changed: false, size: statSync(archive).size, sha256: sha(readFileSync(archive)), path: archive });
    expect((await execa("tar", ["-tzf", archive])).stdout.split("\n")).toEqual(["runs/r/d/keep.txt", "MANIFEST.ndjson"]);
    expect(readdirSync(out)).toEqual(["a.tar.gz"]);
    // The name is taken now: refused by the stage, and by the pack's link(2) if it came meanwhile.
    expect(await stageRemoteArchive({ out, name: "a.tar.gz", links: [] }, opts)).toEqual({ kind: "exists", out });
    const again = await stageRemoteArchive({ out, name: "b.tar.gz", links: [] }, opts);
    if (again.kind !== "ok") throw new Error(JSON.stringify(again));
    writeFileSync(join(out, "b.tar.gz"), "someone else's\n");
    expect(await packRemoteTar({ stage: again.stage, out, name: "b.tar.gz", format: "tar.gz", level: 1, paths: ["runs"] }, opts)).toEqual({ kind: "exists" });
    await removeRemoteStage(again.stage, out, opts);
    expect(readFileSync(join(out, "b.tar.gz"), "utf8")).toBe("someone else's\n");
    expect(readdirSync(out).sort()).toEqual(["a.tar.gz", "b.tar.gz"]);
    // removeRemoteStage removes only a stage of that --out.
    await removeRemoteStage(run, out, opts);
    expect(readdirSync(run).sort()).toEqual(["d", "not-listed.txt"]);

    const here = mkdtempSync(join(tmpdir(), "sp-copy-"));
    const copied = await copyFromRemote(archive, join(here, "a.tar.gz"), packed, opts);
    expect(copied).toEqual({ kind: "ok", path: join(here, "a.tar.gz"), size: packed.size, sha256: packed.sha256 });
    expect(readFileSync(join(here, "a.tar.gz")).equals(readFileSync(archive))).toBe(true);
    for (const d of [ssh.dir, base, run, out]) expect(readdirSync(d)).not.toContain("PWNED");
  });

  it("refuses a level or format that is not one (the script checks, not only the caller)", async () => {
    const ssh = fakeSsh();
    const opts = { host: "box", stateDir: join(ssh.dir, "st"), sshBin: ssh.bin };
    const out = mkdtempSync(join(tmpdir(), "sp-pack-bad-"));
    const staged = await stageRemoteArchive({ out, name: "c.tar.gz", links: [] }, opts);
    if (staged.kind !== "ok") throw new Error(JSON.stringify(staged));
    expect((await packRemoteTar({ stage: staged.stage, out, name: "c.tar.gz", format: "tar.xz" as "tar.gz", level: 1, paths: [] }, opts)).kind).toBe("failed");
    expect((await packRemoteTar({ stage: staged.stage, out, name: "c.tar.gz", format: "tar.gz", level: Number.NaN, paths: [] }, opts)).kind).toBe("failed");
    await removeRemoteStage(staged.stage, out, opts);
    expect(readdirSync(out)).toEqual([]);
  });
});
