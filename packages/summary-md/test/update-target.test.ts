import { chmodSync, chownSync, existsSync, lchownSync, linkSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "@slurmpipe/core";
import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import { isRoot, mkfifo, modeOf, mountTmpfs, releaseFifo, tempFilesUnder, within } from "./fs-helpers.ts";
import { run, tempDir, writeNdjson } from "./helpers.ts";

// --update rewrites the document the user named: through symlinks, keeping its mode and owner,
// and refuses (changing nothing) what it must not or cannot write.

const HEAD = "# exp\n\n| Run Name | Status | Job ID | Started | Completed | Notes |\n|---|---|---|---|---|---|\n";
const DOC = `${HEAD}| run_a | PENDING | 11 | - | - | - |\n`;
const UPDATED = `${HEAD}| run_a | RUNNING | 11 | - | - | - |\n`;
const RECORD = { id: "a", name: "run_a", job: { id: "11" }, state: { state: "RUNNING", category: "active", terminal: false } };

function setup(): { dir: string; input: string } {
  const dir = tempDir();
  return { dir, input: writeNdjson(join(dir, "in.ndjson"), [RECORD]) };
}

const update = (dir: string, input: string, doc: string, extra: Parameters<typeof run>[0] = {}) =>
  run({ inputs: [input], update: doc, now: "2025-10-24T01:00:00Z", ...extra }, { cwd: dir });

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe("--update through symlinks", () => {
  it("updates the file at the end of a chain of relative links, and the links stay links", async () => {
    const { dir, input } = setup();
    mkdirSync(join(dir, "real"));
    mkdirSync(join(dir, "work"));
    writeFileSync(join(dir, "real", "summary.md"), DOC);
    symlinkSync("real/summary.md", join(dir, "hop.md"));
    symlinkSync("../hop.md", join(dir, "work", "experiment_summary.md"));
    const { code } = await update(dir, input, join(dir, "work", "experiment_summary.md"));
    expect(code).toBe(0);
    expect(readFileSync(join(dir, "real", "summary.md"), "utf8")).toBe(UPDATED);
    expect(readlinkSync(join(dir, "work", "experiment_summary.md"))).toBe("../hop.md");
    expect(readlinkSync(join(dir, "hop.md"))).toBe("real/summary.md");
    expect(tempFilesUnder(dir)).toEqual([]);
  });

  it("a dangling symlink is a usage error naming the link and its target; nothing is created", async () => {
    const { dir, input } = setup();
    symlinkSync("gone/summary.md", join(dir, "experiment_summary.md"));
    const p = update(dir, input, join(dir, "experiment_summary.md"));
    await expect(p).rejects.toBeInstanceOf(UsageError);
    await expect(p).rejects.toThrow(/experiment_summary\.md is a symlink to .*gone\/summary\.md, which does not exist/);
    expect(existsSync(join(dir, "gone"))).toBe(false);
  });

  it.each([
    ["a directory", (p: string) => mkdirSync(p), /is a directory/],
    ["a FIFO", (p: string) => void mkfifo(p), /is a FIFO/],
    ["a character device (a link to /dev/null)", (p: string) => symlinkSync("/dev/null", p), /-> \/dev\/null\) is a character device/],
  ])("%s is a usage error, checked before anything is read", async (_what, make, message) => {
    const { dir, input } = setup();
    const doc = join(dir, "experiment_summary.md");
    make(doc);
    try {
      const p = within(5000, update(dir, input, doc, { plots: join(dir, "plots") }));
      await expect(p).rejects.toThrow(message);
      await expect(p).rejects.toBeInstanceOf(UsageError);
      expect(existsSync(join(dir, "plots"))).toBe(false);
    } finally {
      releaseFifo(doc);
    }
  });
});

describe("--update keeps the file's mode and owner", () => {
  it.each([0o600, 0o664, 0o640, 0o660, 0o755].map((m) => [m.toString(8), m] as const))("mode 0%s", async (_octal, mode) => {
    const { dir, input } = setup();
    const doc = join(dir, "experiment_summary.md");
    writeFileSync(doc, DOC);
    chmodSync(doc, mode);
    expect((await update(dir, input, doc)).code).toBe(0);
    expect(readFileSync(doc, "utf8")).toBe(UPDATED);
    expect(modeOf(doc)).toBe(mode);
  });

  it.runIf(isRoot)("as root, the original uid and gid", async () => {
    const { dir, input } = setup();
    const doc = join(dir, "experiment_summary.md");
    writeFileSync(doc, DOC);
    chownSync(doc, 4242, 4343);
    chmodSync(doc, 0o640);
    expect((await update(dir, input, doc)).code).toBe(0);
    const st = statSync(doc);
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([4242, 4343, 0o640]);
  });

  // As a user in a second group: the updated file keeps that group (a new file would get the
  // user's primary group). Root has no such group, so as root the built command runs as an
  // unprivileged user (uid 4242, primary group 4242, also in 4343) through setpriv.
  const otherGroup = isRoot ? 4343 : process.getgroups?.().find((g) => g !== process.getegid?.());
  it.runIf(otherGroup !== undefined)("as a user, the file's group when the user is in it", async () => {
    const { dir, input } = setup();
    const doc = join(dir, "experiment_summary.md");
    writeFileSync(doc, DOC);
    if (!isRoot) {
      chownSync(doc, process.geteuid!(), otherGroup!);
      expect((await update(dir, input, doc)).code).toBe(0);
      expect(statSync(doc).gid).toBe(otherGroup);
      return;
    }
    for (const p of [dir, input]) chownSync(p, 4242, 4242);
    chownSync(doc, 4242, 4343);
    chmodSync(doc, 0o664);
    const cli = fileURLToPath(new URL("../dist/cli.mjs", import.meta.url));
    const argv = ["--reuid=4242", "--regid=4242", "--groups=4343", process.execPath, cli, "--update", doc, "--now", "2025-10-24T01:00:00Z", input];
    const r = await execa("setpriv", argv, { cwd: dir, reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readFileSync(doc, "utf8")).toBe(UPDATED);
    const st = statSync(doc);
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([4242, 4343, 0o664]);
  });

  it("warns that other hard links keep the old document (the rename replaces one name)", async () => {
    const { dir, input } = setup();
    const doc = join(dir, "experiment_summary.md");
    writeFileSync(doc, DOC);
    linkSync(doc, join(dir, "copy.md"));
    const { code, stderr } = await update(dir, input, doc);
    expect(code).toBe(0);
    expect(stderr).toMatch(/warning: .*experiment_summary\.md has 2 hard links; only this name gets the update/);
    expect(readFileSync(join(dir, "copy.md"), "utf8")).toBe(DOC);
  });
});

describe("--update refuses what it cannot write, changing nothing", () => {
  it.each([0o444, 0o400, 0o555].map((m) => [m.toString(8), m] as const))("a read-only file (mode 0%s), as root too", async (_octal, mode) => {
    const { dir, input } = setup();
    const doc = join(dir, "experiment_summary.md");
    writeFileSync(doc, DOC);
    chmodSync(doc, mode);
    const p = update(dir, input, doc, { plots: join(dir, "plots") });
    await expect(p).rejects.toThrow(new RegExp(`cannot write ${doc}: the file is read-only \\(mode 0${mode.toString(8)}\\)`));
    await expect(p).rejects.not.toBeInstanceOf(UsageError);
    expect(readFileSync(doc, "utf8")).toBe(DOC);
    expect(modeOf(doc)).toBe(mode);
    expect(existsSync(join(dir, "plots"))).toBe(false);
    expect(tempFilesUnder(dir)).toEqual([]);
  });

  it("a file in a read-only directory, leaving no temp file", async () => {
    const { dir, input } = setup();
    const ro = join(dir, "ro");
    mkdirSync(ro);
    writeFileSync(join(ro, "experiment_summary.md"), DOC);
    chmodSync(ro, 0o555);
    cleanups.push(() => chmodSync(ro, 0o755));
    const p = update(dir, input, join(ro, "experiment_summary.md"));
    await expect(p).rejects.toThrow(new RegExp(`cannot write ${ro}/experiment_summary\\.md: directory ${ro} is not writable`));
    expect(readFileSync(join(ro, "experiment_summary.md"), "utf8")).toBe(DOC);
    expect(tempFilesUnder(dir)).toEqual([]);
  });

  const mountable = mountTmpfs(join(tempDir(), "probe"));
  mountable?.();
  it.runIf(Boolean(mountable))("a file on a read-only file system (root: tmpfs mounted ro)", async () => {
    const { dir, input } = setup();
    const mnt = join(dir, "mnt");
    const unmount = mountTmpfs(mnt, { readOnly: true, fill: (d) => writeFileSync(join(d, "experiment_summary.md"), DOC) })!;
    cleanups.push(unmount);
    const p = update(dir, input, join(mnt, "experiment_summary.md"));
    await expect(p).rejects.toThrow(new RegExp(`cannot write ${mnt}/experiment_summary\\.md: ${mnt} is on a read-only file system`));
    expect(readFileSync(join(mnt, "experiment_summary.md"), "utf8")).toBe(DOC);
  });

  it.runIf(Boolean(mountable))("a full file system: the error names the document, the old one stays, no temp file", async () => {
    const { dir } = setup();
    const many = Array.from({ length: 400 }, (_, i) => ({ ...RECORD, id: `r${i}`, name: `run_with_a_long_name_${i}` }));
    const input = writeNdjson(join(dir, "many.ndjson"), many);
    const mnt = join(dir, "mnt");
    cleanups.push(mountTmpfs(mnt, { size: "16k", fill: (d) => writeFileSync(join(d, "experiment_summary.md"), DOC) })!);
    const p = update(dir, input, join(mnt, "experiment_summary.md"));
    await expect(p).rejects.toThrow(new RegExp(`cannot write ${mnt}/experiment_summary\\.md: no space left on device`));
    expect(readFileSync(join(mnt, "experiment_summary.md"), "utf8")).toBe(DOC);
    expect(tempFilesUnder(mnt)).toEqual([]);
  });

  it.runIf(isRoot)("a symlink someone else made (not you, not the directory's owner) is not followed", async () => {
    const { dir, input } = setup();
    writeFileSync(join(dir, "target.md"), DOC);
    symlinkSync("target.md", join(dir, "experiment_summary.md"));
    lchownSync(join(dir, "experiment_summary.md"), 4242, 4242);
    const p = update(dir, input, join(dir, "experiment_summary.md"));
    await expect(p).rejects.toThrow(/refusing to follow .*experiment_summary\.md: the symlink belongs to uid 4242/);
    expect(readFileSync(join(dir, "target.md"), "utf8")).toBe(DOC);
    expect(lstatSync(join(dir, "experiment_summary.md")).isSymbolicLink()).toBe(true);
  });

  it.runIf(isRoot)("a symlink made by the directory's owner is followed", async () => {
    const { dir, input } = setup();
    const home = join(dir, "home");
    mkdirSync(home);
    writeFileSync(join(dir, "target.md"), DOC);
    symlinkSync("../target.md", join(home, "experiment_summary.md"));
    chownSync(home, 4242, 4242);
    lchownSync(join(home, "experiment_summary.md"), 4242, 4242);
    expect((await update(dir, input, join(home, "experiment_summary.md"))).code).toBe(0);
    expect(readFileSync(join(dir, "target.md"), "utf8")).toBe(UPDATED);
    expect(lstatSync(join(home, "experiment_summary.md")).isSymbolicLink()).toBe(true);
  });
});
