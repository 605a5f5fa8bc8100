import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { RunAnalysis } from "./analyzer.ts";
import { metricName } from "./metrics.ts";
import { openLog } from "./open.ts";
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
export function findMetricsCsv(dir: string): Promise<string | undefined> {
  return findNewestFile(dir, "metrics.csv");
}

/**
 * HF Trainer's newest `trainer_state.json`: under `dir`, or under `dir/checkpoints`, which the
 * general walk skips (checkpoint trees are large) but is a common `output_dir` name.
 */
export async function findTrainerState(dir: string): Promise<string | undefined> {
  const found = [await findNewestFile(dir, "trainer_state.json"), await findNewestFile(join(dir, "checkpoints"), "trainer_state.json")].filter((p) => p !== undefined);
  let best: { path: string; mtime: number } | undefined;
  for (const path of found) {
    const mtime = (await stat(path).catch(() => undefined))?.mtimeMs ?? 0;
    if (!best || mtime > best.mtime) best = { path, mtime };
  }
  return best?.path;
}

/** The newest regular file called `name` under `dir` (breadth-first, at most 4 levels and 500 directories). */
export async function findNewestFile(dir: string, name: string): Promise<string | undefined> {
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
        else if (e.isFile() && e.name === name) {
          const m = await stat(p).then((s) => s.mtimeMs, () => 0);
          if (!best || m > best.mtime) best = { path: p, mtime: m };
        }
      }
    }
    level = next;
  }
  return best?.path;
}

/** A CSVLogger row is a few hundred bytes; an unterminated quote must not make one of the whole file. */
export const MAX_CSV_RECORD_BYTES = 1 << 20;

export interface CsvRead {
  rows: number;
  bytes: number;
  /** Why the file was not read, or not to its end (the rows before still count), naming file and line. */
  error?: string;
}

/** Streams the CSV into the run's series (only a regular file, up to its size when opened; see open.ts). */
export async function readMetricsCsv(path: string, run: RunAnalysis): Promise<CsvRead> {
  const opened = await openLog(path);
  if (!opened.ok) return { rows: 0, bytes: 0, error: opened.exists ? opened.message : `${path}: no such file` };
  const { handle, size } = opened;
  let rows = 0;
  let line = 0;
  try {
    if (size === 0) return { rows, bytes: 0 };
    // Imported when a run has a metrics.csv: most runs have none, and every start would compile it.
    const { parse } = await import("csv-parse");
    const parser = handle.createReadStream({ start: 0, end: size - 1 }).pipe(
      parse({ columns: false, relax_column_count: true, relax_quotes: true, skip_empty_lines: true, bom: true, info: true, max_record_size: MAX_CSV_RECORD_BYTES }),
    );
    rows = await readRows(parser as AsyncIterable<CsvItem>, path, run, (l) => (line = l));
    return { rows, bytes: size };
  } catch (e) {
    const at = (e as { lines?: number }).lines ?? line + 1; // csv-parse's errors know their line
    return { rows, bytes: size, error: `${path}:${at}: ${(e as Error).message} (the rest of the file was not read)` };
  } finally {
    await handle.close();
  }
}

type CsvItem = { record: string[]; info: { lines: number } };

async function readRows(parser: AsyncIterable<CsvItem>, path: string, run: RunAnalysis, at: (line: number) => void): Promise<number> {
  let header: string[] | undefined;
  let stepCol = -1;
  let rows = 0;
  for await (const item of parser) {
    at(item.info.lines);
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
  return rows;
}
