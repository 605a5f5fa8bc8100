import { mkdir, readFile } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import { fsReason, mkdirp, sha256, writeFileAtomic } from "@slurmpipe/core";
import { RunError } from "./resolve.ts";

/**
 * Where a file with this content goes: `path` itself when it does not exist yet or already holds
 * exactly this text, else `<stem>.<first 8 hex digits of the text's sha256><ext>` beside it
 * (`job.sbatch` -> `job.3f9a0c1e.sbatch`). A file is never replaced by different content: a job
 * already submitted (queued, running or requeued) keeps running the script its record names. The
 * second name depends on the content only, so rendering the same change again finds its file.
 */
export async function placeFor(path: string, text: string): Promise<string> {
  const current = await readFile(path, "utf8").catch(() => undefined);
  if (current === undefined || current === text) return path;
  const ext = extname(path);
  const alternative = join(dirname(path), `${basename(path, ext)}.${sha256(text).slice(0, 8)}${ext}`);
  const there = await readFile(alternative, "utf8").catch(() => undefined);
  if (there === undefined || there === text) return alternative;
  throw new RunError(`${path} and ${alternative} both exist with other content; slurm-render never replaces a script (a submitted job may still run it): move one away`, "script", "script_exists");
}

/**
 * Writes `text` unless the file already holds exactly it: an unchanged run keeps its file and
 * mtime (so make-style tools and slurm-submit's change detection see no change). Other content is
 * never overwritten (see placeFor). Returns true when the file was written.
 */
export async function writeIfNew(path: string, text: string): Promise<boolean> {
  const current = await readFile(path, "utf8").catch(() => undefined);
  if (current === text) return false;
  if (current !== undefined) throw new RunError(`${path} exists with other content and is never replaced`, "script", "script_exists");
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, text);
  return true;
}

/**
 * Writes a run's files (paths from placeFor) into its script directory, with the `logs/` directory
 * beside them (sbatch fails the job, 0:53, when the --output directory is missing). A directory that
 * cannot be made or written (read-only file system, permissions, a full disk) fails this run with a
 * clear error, not the whole stream.
 */
export async function writeRunFiles(dir: string, files: readonly [path: string, text: string][]): Promise<void> {
  let at = `${dir}/logs`;
  try {
    await mkdirp(at);
    for (const [path, text] of files) {
      at = path;
      await writeIfNew(path, text);
    }
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (!err.code || e instanceof RunError) throw e;
    throw new RunError(`cannot write ${at} (${fsReason(err)}): give --out a writable directory`, "script", "write_failed");
  }
}
