import { mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { fsReason, mkdirp, writeFileAtomic } from "@slurmpipe/core";
import { RunError } from "./resolve.ts";

/**
 * Writes `text` unless the file already holds exactly it: an unchanged run keeps its file and
 * mtime (so make-style tools and slurm-submit's change detection see no change). Returns true
 * when the file was written.
 */
export async function writeIfChanged(path: string, text: string): Promise<boolean> {
  const current = await readFile(path, "utf8").catch(() => undefined);
  if (current === text) return false;
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, text);
  return true;
}

/**
 * Writes a run's files into its script directory, with the `logs/` directory beside them (sbatch
 * fails the job, 0:53, when the --output directory is missing). A directory that cannot be made or
 * written (read-only file system, permissions, a full disk) fails this run with a clear error, not
 * the whole stream.
 */
export async function writeRunFiles(dir: string, files: readonly [path: string, text: string][]): Promise<void> {
  let at = `${dir}/logs`;
  try {
    await mkdirp(at);
    for (const [path, text] of files) {
      at = path;
      await writeIfChanged(path, text);
    }
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (!err.code) throw e;
    throw new RunError(`cannot write ${at} (${fsReason(err)}): give --out a writable directory`, "script", "write_failed");
  }
}
