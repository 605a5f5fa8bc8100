import { describeFile } from "@slurmpipe/core";
import { lstat, mkdir, mkdtemp, readlink, rename, rm, rmdir, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";

/** Why one file cannot go where the archive says, in the restore's own terms. */
export interface TargetProblem {
  problem: "exists" | "unsafe_target" | "io";
  message: string;
}

export class TargetError extends Error {
  constructor(
    readonly rel: string,
    readonly problem: TargetProblem["problem"],
    message: string,
  ) {
    super(message);
    this.name = "TargetError";
  }
}

const linkText = async (p: string) => readlink(p).then((t) => ` (to ${t})`, () => "");

/**
 * Checks where archive path `rel` would be written under `root`, without creating anything:
 * every existing directory on the way must be a real directory, never a symlink (restore does not
 * follow links it did not create, so a `runs -> /elsewhere` inside --to cannot redirect it), and
 * an existing target is replaced only with `force` and only when it is a regular file.
 */
export async function checkTarget(root: string, rel: string, force: boolean): Promise<TargetProblem | undefined> {
  const parts = rel.split("/");
  let p = root;
  for (const part of parts.slice(0, -1)) {
    p = join(p, part);
    const st = await lstat(p).catch(() => undefined);
    if (!st) return undefined; // missing: restore creates it, and nothing exists below it
    if (st.isSymbolicLink()) return { problem: "unsafe_target", message: `${p} is a symbolic link${await linkText(p)}; restore never follows a link it did not create` };
    if (!st.isDirectory()) return { problem: "unsafe_target", message: `${p} is ${describeFile(st)}, not a directory` };
  }
  const dest = join(root, ...parts);
  const st = await lstat(dest).catch(() => undefined);
  if (!st) return undefined;
  if (!st.isFile()) return { problem: "unsafe_target", message: `${dest} is ${describeFile(st)}${await linkText(dest)}; not replaced (--force replaces regular files only)` };
  if (!force) return { problem: "exists", message: `${dest} exists; not overwritten (use --force)` };
  return undefined;
}

/**
 * All or nothing under --to. Files are written into one hidden staging directory inside --to (the
 * same file system, so moving them into place is a rename), checked there, and only moved once
 * every one of them is good. If moving fails halfway, what was moved is taken back, replaced
 * files are put back and created directories removed: a failed restore leaves --to as it was.
 */
export class Transaction {
  private count = 0;
  /** Set when a replaced file could not be put back: it is still in staging, which is then kept. */
  private holdsOldFiles = false;
  private constructor(
    readonly root: string,
    readonly staging: string,
    /** The topmost directory this restore created (--to itself or a parent), if any. */
    private readonly createdTop: string | undefined,
  ) {}

  static async begin(root: string): Promise<Transaction> {
    // --to itself is followed when it is a link: the user pointed there.
    const st = await stat(root).catch(() => undefined);
    if (st && !st.isDirectory()) throw new Error(`--to ${root} is ${describeFile(st)}, not a directory`);
    const createdTop = st ? undefined : await mkdir(root, { recursive: true });
    const staging = await mkdtemp(join(root, ".sp-restore-"));
    return new Transaction(root, staging, createdTop);
  }

  /** A fresh name in the staging directory. */
  stagedPath(): string {
    return join(this.staging, String(this.count++));
  }

  /** Moves staged files to their archive paths; on any failure undoes every move and throws a TargetError. */
  async commit(items: { rel: string; staged: string }[], force: boolean): Promise<void> {
    const created: string[] = [];
    const placed: string[] = [];
    const replaced: [backup: string, dest: string][] = [];
    let rel = "";
    try {
      for (const item of items) {
        rel = item.rel;
        const parts = rel.split("/");
        let p = this.root;
        for (const part of parts.slice(0, -1)) {
          p = join(p, part);
          const st = await lstat(p).catch(() => undefined);
          if (!st) {
            await mkdir(p); // not recursive: each level is checked, then made
            created.push(p);
          } else if (!st.isDirectory()) {
            throw new TargetError(rel, "unsafe_target", `${p} is ${describeFile(st)} (it appeared while restoring); restore never follows a link it did not create`);
          }
        }
        const dest = join(p, parts.at(-1)!);
        const st = await lstat(dest).catch(() => undefined);
        if (st) {
          if (!st.isFile()) throw new TargetError(rel, "unsafe_target", `${dest} is ${describeFile(st)} (it appeared while restoring); not replaced`);
          if (!force) throw new TargetError(rel, "exists", `${dest} appeared while restoring; not overwritten (use --force)`);
          const backup = join(this.staging, `replaced-${replaced.length}`);
          await rename(dest, backup);
          replaced.push([backup, dest]);
        }
        await rename(item.staged, dest);
        placed.push(dest);
      }
    } catch (e) {
      const lost: string[] = [];
      for (const dest of placed.reverse()) await unlink(dest).catch(() => {});
      for (const [backup, dest] of replaced.reverse()) await rename(backup, dest).catch(() => lost.push(`${dest} (kept as ${backup})`));
      for (const dir of created.reverse()) await rmdir(dir).catch(() => {});
      const err = e instanceof TargetError ? e : new TargetError(rel, "io", `${rel}: ${(e as Error).message}`);
      if (lost.length > 0) {
        // Never delete an old file we could not put back: keep it and say where it is.
        this.holdsOldFiles = true;
        throw new TargetError(err.rel, err.problem, `${err.message}; could not put back ${lost.join(", ")}`);
      }
      throw err;
    }
  }

  /** After a successful commit: drops the staging directory (and the files --force replaced). */
  async done(): Promise<void> {
    await rm(this.staging, { recursive: true, force: true });
  }

  /** Removes everything this restore wrote: the staging directory, and --to if it made it. */
  async abort(): Promise<void> {
    if (!this.holdsOldFiles) await rm(this.staging, { recursive: true, force: true });
    if (this.createdTop === undefined) return;
    for (let dir = this.root; ; dir = dirname(dir)) {
      if (!(await rmdir(dir).then(() => true, () => false))) return; // not empty: someone else's now
      if (dir === this.createdTop || dir === dirname(dir)) return;
    }
  }
}
