import { type Stats, constants } from "node:fs";
import { access, lstat, readlink, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, resolve, sep } from "node:path";
import { describeFile } from "@slurmpipe/core";

/*
 * Where a file that summary-md replaces really is, and whether it may be replaced. Self-contained
 * (node:fs only) so it can move to core's atomic write, where every command's writes need it.
 *
 * Symlink policy. The directories of a path the user typed are followed as any command would follow
 * them (the user chose that path). A link met where summary-md picks the name (the file named by
 * --update/-o, each link of its chain, the plots directory and everything below it) is followed
 * only when it belongs to the user running summary-md, to root, or to the owner of the directory it
 * is in (who could replace the file anyway). A link planted by anyone else in a shared directory is
 * refused: summary-md often runs as root (CI) or from cron, and following such a link would
 * overwrite whatever file its maker chose.
 */

/** Problems with what a path names (a usage error) as opposed to what it allows (not writable). */
const USAGE_PROBLEMS = new Set(["missing", "dangling", "not-file", "not-dir", "loop"] as const);
type UsageProblem = typeof USAGE_PROBLEMS extends Set<infer T> ? T : never;
export type TargetProblem = UsageProblem | "untrusted-link" | "read-only" | "dir-read-only" | "read-only-fs";

export class TargetError extends Error {
  constructor(
    message: string,
    readonly problem: TargetProblem,
    readonly path: string,
  ) {
    super(message);
    this.name = "TargetError";
  }

  /** The path names the wrong thing (missing, a directory, a FIFO, ...): the user's command line is wrong. */
  get isUsage(): boolean {
    return USAGE_PROBLEMS.has(this.problem as UsageProblem);
  }
}

export interface FileTarget {
  /** The path as given, absolute. */
  path: string;
  /** The same file with every symlink resolved: the directory the temp file goes to is dirname(real). */
  real: string;
  /** The existing file (lstat of real, never a link); undefined when the file is new. */
  stat?: Stats;
}

/** The path for messages: the given one, and where it leads when that differs. */
export function shown(t: FileTarget): string {
  return t.real === t.path ? t.path : `${t.path} (-> ${t.real})`;
}

const MAX_LINKS = 40; // Linux's own limit for one path resolution (ELOOP)


const octal = (mode: number) => `0${(mode & 0o7777).toString(8)}`;
const errno = (e: unknown) => (e as NodeJS.ErrnoException).code;

/** Resolves paths for one run; directories already resolved are remembered (one lstat per plot file, not per component). */
export class Resolver {
  private readonly dirs = new Map<string, string>();

  constructor(private readonly euid: number = process.geteuid?.() ?? -1) {}

  /**
   * The file at path: its directory must exist; a symlink at path is followed (trusted links only) to
   * an existing file. `typed` is the part of the path the user chose (default: its directory): links
   * in it are followed unchecked, links past it must be trusted.
   */
  async file(path: string, typed: string = dirname(path), hops = 0): Promise<FileTarget> {
    const dir = await this.directory(dirname(path), typed);
    if (dir === undefined) throw new TargetError(`directory ${dirname(path)} does not exist`, "missing", path);
    const here = join(dir, basename(path));
    const st = await lstat(here).catch((e) => (errno(e) === "ENOENT" ? undefined : Promise.reject(e)));
    if (!st) return { path, real: here };
    if (!st.isSymbolicLink()) return { path, real: here, stat: st };
    await this.trust(here, st, dir);
    if (hops >= MAX_LINKS) throw new TargetError(`${path}: more than ${MAX_LINKS} symlinks in a row (a loop?)`, "loop", path);
    const to = await readlink(here);
    const dangling = () => new TargetError(`${path} is a symlink to ${resolve(dir, to)}, which does not exist`, "dangling", path);
    let next: FileTarget;
    try {
      // Not path.resolve: it would fold "sub/.." before "sub" is known to be a directory, not a link.
      // The directories the trusted link names are its maker's choice, as typed ones are the user's.
      const raw = isAbsolute(to) ? to : `${dir}${sep}${to}`;
      next = await this.file(raw, dirname(raw), hops + 1);
    } catch (e) {
      if (e instanceof TargetError && e.problem === "missing") throw dangling();
      throw e;
    }
    if (!next.stat) throw dangling();
    return { ...next, path };
  }

  /** The real path of an existing directory (undefined when it does not exist); throws when it is not a directory. */
  async directory(path: string, typed: string = path): Promise<string | undefined> {
    const key = `${typed}\0${path}`;
    const known = this.dirs.get(key);
    if (known !== undefined) return known;
    const { real, stat: st } = await this.walk(path, typed);
    if (!st) return undefined;
    if (!st.isDirectory()) throw new TargetError(`${path} is ${describeFile(st)}, not a directory`, "not-dir", path);
    // Only existing directories are remembered: a missing one may be created (mkdir -p) later in the run.
    this.dirs.set(key, real);
    return real;
  }

  /**
   * Follows every component of an absolute path like realpath(3). Links met in the components of
   * `typed` (or named by a link) are followed as the kernel would; links in the components after it are checked.
   */
  private async walk(path: string, typed: string): Promise<{ real: string; stat?: Stats }> {
    const parts = path.split(sep).filter(Boolean);
    const free = typed === path || path.startsWith(typed.endsWith(sep) ? typed : typed + sep) ? typed.split(sep).filter(Boolean).length : 0;
    // A stack, the next component last; `check`: summary-md chose this name, so a link here must be trusted.
    const pending = parts.map((name, i) => ({ name, check: i >= free })).reverse();
    let cur: string = sep;
    let hops = 0;
    while (pending.length > 0) {
      const { name, check } = pending.pop()!;
      if (name === ".") continue;
      if (name === "..") {
        cur = dirname(cur); // cur is real, so its parent is the real parent
        continue;
      }
      const next = join(cur, name);
      const got = await lstat(next).catch((e) => (errno(e) === "ENOENT" ? undefined : Promise.reject(e)));
      if (!got) return { real: join(next, ...pending.reverse().map((p) => p.name)) };
      if (got.isSymbolicLink()) {
        if (check) await this.trust(next, got, cur);
        if (++hops > MAX_LINKS) throw new TargetError(`${path}: more than ${MAX_LINKS} symlinks (a loop?)`, "loop", path);
        const to = await readlink(next);
        if (isAbsolute(to)) cur = sep;
        pending.push(...to.split(sep).filter(Boolean).map((n) => ({ name: n, check: false })).reverse());
        continue;
      }
      if (pending.length > 0 && !got.isDirectory()) throw new TargetError(`${next} is ${describeFile(got)}, not a directory`, "not-dir", path);
      cur = next;
    }
    return { real: cur, stat: await stat(cur) };
  }

  private async trust(link: string, st: Stats, dir: string): Promise<void> {
    if (this.euid < 0 || st.uid === this.euid || st.uid === 0) return;
    const owner = (await stat(dir)).uid;
    if (st.uid === owner) return;
    throw new TargetError(
      `refusing to follow ${link}: the symlink belongs to uid ${st.uid}, not to you (uid ${this.euid}), root or the owner of ${dir} (uid ${owner}); ` +
        "remove it, or make the link yourself if it should be followed",
      "untrusted-link",
      link,
    );
  }
}

/**
 * Throws unless the file may be replaced: a regular file (or a new one) that the user may write,
 * in a directory the user may write. Root passes access(2) for any mode, so for root the mode bits
 * decide: a file or directory without any write bit (0444, 0555) is read-only, as for everyone.
 */
export async function checkWritable(t: FileTarget, euid: number = process.geteuid?.() ?? -1): Promise<void> {
  const dir = dirname(t.real);
  const fsReadOnly = () => new TargetError(`cannot write ${shown(t)}: ${dir} is on a read-only file system`, "read-only-fs", t.path);
  if (t.stat) {
    if (!t.stat.isFile()) throw new TargetError(`${shown(t)} is ${describeFile(t.stat)}, not a regular file`, "not-file", t.path);
    const readOnly = () =>
      new TargetError(
        `cannot write ${shown(t)}: the file is read-only (mode ${octal(t.stat!.mode)}); make it writable (chmod u+w) for summary-md to replace it`,
        "read-only",
        t.path,
      );
    if (euid === 0 && (t.stat.mode & 0o222) === 0) throw readOnly();
    const denied = await access(t.real, constants.W_OK).then(
      () => undefined,
      (e) => errno(e),
    );
    if (denied === "EROFS") throw fsReadOnly();
    if (denied) throw readOnly();
  }
  const dirStat = await stat(dir);
  const dirReadOnly = () => new TargetError(`cannot write ${shown(t)}: directory ${dir} is not writable (mode ${octal(dirStat.mode)})`, "dir-read-only", t.path);
  if (euid === 0 && (dirStat.mode & 0o222) === 0) throw dirReadOnly();
  const denied = await access(dir, constants.W_OK | constants.X_OK).then(
    () => undefined,
    (e) => errno(e),
  );
  if (denied === "EROFS") throw fsReadOnly();
  if (denied) throw dirReadOnly();
}
