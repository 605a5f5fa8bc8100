import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";

/** Directories a run's metric files are never looked for in (large, or someone else's). */
export const SKIP = new Set(["node_modules", ".git", "__pycache__", "wandb", ".cache", "checkpoints"]);

/**
 * The newest file (by mtime) under `dir` whose name passes `wanted`: breadth-first, at most
 * `maxDepth` levels below `dir` and 500 directories, hidden and SKIP directories left out, so a
 * run directory holding a dataset or a virtual environment costs a bounded walk.
 */
export async function findNewestFile(dir: string, wanted: (name: string) => boolean, maxDepth: number): Promise<string | undefined> {
  let level = [dir];
  let visited = 0;
  let best: { path: string; mtime: number } | undefined;
  for (let depth = 0; depth <= maxDepth && level.length > 0; depth++) {
    const next: string[] = [];
    for (const d of level) {
      if (++visited > 500) return best?.path;
      const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        const p = join(d, e.name);
        if (e.isDirectory() && !SKIP.has(e.name) && !e.name.startsWith(".")) next.push(p);
        else if (e.isFile() && wanted(e.name)) {
          const m = await stat(p).then(
            (s) => s.mtimeMs,
            () => 0,
          );
          if (!best || m > best.mtime) best = { path: p, mtime: m };
        }
      }
    }
    level = next;
  }
  return best?.path;
}
