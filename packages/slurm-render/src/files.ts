import { mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { writeFileAtomic } from "@slurmpipe/core";

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
