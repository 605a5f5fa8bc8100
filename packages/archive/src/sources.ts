import { describeFile } from "@slurmpipe/core";
import type { Stats } from "node:fs";
import { lstat, readlink, realpath, stat } from "node:fs/promises";
import { inside } from "./layout.ts";

/** What to do with one path found for a run. */
export type Inspected =
  | { kind: "file"; readFrom: string; stats: Stats }
  | { kind: "skip" }
  | { kind: "problem"; problem: "link_outside" | "special_file" | "broken_link" | "unreadable"; severity: "error" | "warning"; message: string };

/**
 * Decides whether a source file may be read into an archive, without reading it. Only regular
 * files are. A symlink is followed only when its target is inside the run directory (a
 * `latest.ckpt -> epoch3.ckpt` is stored as a copy of epoch3.ckpt); one pointing anywhere else
 * (`train.log -> ~/.ssh/id_rsa`) is not followed, since it may point at files nobody meant to
 * publish. A file found in the run directory must also really be in it: one reached through a
 * directory link out of it is refused the same way. FIFOs, sockets and devices are never opened
 * (a FIFO would block the archiver). Found while walking the run directory they are warnings
 * (there is nothing to lose); named by the record or the user (a declared output, a log, the
 * script, a file argument) they are errors.
 *
 * `runDir` is the run directory's real path (undefined for files given as arguments); `inRun`
 * says `abs` is inside the run directory as written, so it must be inside it for real too.
 */
export async function inspectSource(abs: string, runDir: string | undefined, how: { named: boolean; inRun: boolean }): Promise<Inspected> {
  const { named } = how;
  const severity = named ? "error" : "warning";
  let lst: Stats;
  try {
    lst = await lstat(abs);
  } catch (e) {
    return { kind: "problem", problem: "unreadable", severity: "error", message: `${abs}: ${(e as Error).message}` };
  }
  const where = runDir ? `outside the run directory ${runDir}` : "and files given as arguments are never followed";
  const advice = "not followed (a link can point at files not meant to be published: --exclude it, or archive what it points to itself)";
  if (lst.isSymbolicLink()) {
    const target = await readlink(abs).catch(() => "?");
    let real: string;
    try {
      real = await realpath(abs);
    } catch {
      return { kind: "problem", problem: "broken_link", severity, message: `${abs} is a symbolic link to ${target}, which does not exist; nothing archived` };
    }
    if (!runDir || inside(runDir, real) === undefined) {
      return { kind: "problem", problem: "link_outside", severity: "error", message: `${abs} is a symbolic link to ${real}, ${where}; ${advice}` };
    }
    const st = await stat(real);
    // A link to a directory inside the run dir: its files are archived under their real paths.
    if (st.isDirectory()) return { kind: "skip" };
    if (!st.isFile()) return { kind: "problem", problem: "special_file", severity, message: `${abs} is a symbolic link to ${describeFile(st)}; not read` };
    return { kind: "file", readFrom: real, stats: st };
  }
  if (how.inRun && runDir) {
    const real = await realpath(abs).catch(() => abs);
    if (inside(runDir, real) === undefined) {
      return { kind: "problem", problem: "link_outside", severity: "error", message: `${abs} is reached through a symbolic link to ${real}, ${where}; ${advice}` };
    }
  }
  if (lst.isDirectory()) return { kind: "skip" };
  if (!lst.isFile()) return { kind: "problem", problem: "special_file", severity, message: `${abs} is ${describeFile(lst)}; not read` };
  return { kind: "file", readFrom: abs, stats: lst };
}
