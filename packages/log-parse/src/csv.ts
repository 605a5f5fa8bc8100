import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "csv-parse";
import type { RunAnalysis } from "./analyzer.ts";
import { metricName } from "./metrics.ts";
import { parseNumber } from "./numbers.ts";

/**
 * Lightning's CSVLogger writes `<save_dir>/<name>/version_<N>/metrics.csv`: sparse rows (train and
 * validation rows have different columns empty), a `step` column somewhere (columns are sorted in
 * newer versions), `nan`/`inf` as Python prints them, and a header that can be rewritten mid-run.
 */
const MAX_DEPTH = 4;
const MAX_DIRS = 500;
const SKIP = new Set(["node_modules", ".git", "__pycache__", "wandb", ".cache", "checkpoints"]);

/** The newest `metrics.csv` under `dir`, searched breadth-first, shallow and bounded. */
export async function findMetricsCsv(dir: string): Promise<string | undefined> {
  let level = [dir];
  let visited = 0;
  let best: { path: string; mtime: number } | undefined;
  for (let depth = 0; depth <= MAX_DEPTH && level.length > 0; depth++) {
    const next: string[] = [];
    for (const d of level) {
      if (++visited > MAX_DIRS) return best?.path;
      let entries: import("node:fs").Dirent[];
      try {
        entries = await readdir(d, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) {
        const p = join(d, e.name);
        if (e.isDirectory() && !SKIP.has(e.name) && !e.name.startsWith(".")) next.push(p);
        else if (e.isFile() && e.name === "metrics.csv") {
          const m = await stat(p).then((s) => s.mtimeMs, () => 0);
          if (!best || m > best.mtime) best = { path: p, mtime: m };
        }
      }
    }
    level = next;
  }
  return best?.path;
}

/** Streams the CSV into the run's series. Returns the number of data rows. */
export async function readMetricsCsv(path: string, run: RunAnalysis): Promise<{ rows: number; bytes: number }> {
  const parser = createReadStream(path).pipe(
    parse({ columns: false, relax_column_count: true, relax_quotes: true, skip_empty_lines: true, bom: true, info: true }),
  );
  let header: string[] | undefined;
  let stepCol = -1;
  let rows = 0;
  for await (const item of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    const rec = item.record;
    const line = item.info.lines;
    if (!header || (rec.includes("step") && rec.every((c) => parseNumber(c) === undefined))) {
      header = rec.map((h) => h.trim());
      stepCol = header.indexOf("step");
      continue;
    }
    rows += 1;
    const step = stepCol >= 0 ? Number(rec[stepCol]) : Number.NaN;
    for (let i = 0; i < header.length; i++) {
      if (i === stepCol) continue;
      const raw = rec[i]?.trim();
      if (!raw) continue;
      const name = metricName(header[i]!);
      if (name === "epoch") continue;
      const v = parseNumber(raw);
      if (v === undefined) continue;
      run.metric(name, Number.isFinite(step) ? step : undefined, raw, v, path, line);
    }
  }
  const bytes = await stat(path).then((s) => s.size, () => 0);
  return { rows, bytes };
}
