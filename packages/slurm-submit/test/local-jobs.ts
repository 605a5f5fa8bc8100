import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const ENDED = new Set(["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"]);

/** Waits (at most `ms`) until every local-backend job file under `root` (any `jobs/` dir below it) has ended. */
export async function localJobsEnded(root: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (jobStates(root).every((s) => ENDED.has(s)) || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

function jobStates(dir: string): string[] {
  const out: string[] = [];
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...jobStates(p));
    else if (/^\d+\.json$/.test(e.name) && dir.endsWith("jobs")) {
      try {
        out.push((JSON.parse(readFileSync(p, "utf8")) as { state: string }).state);
      } catch {}
    }
  }
  return out;
}
