import { readdir, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import type { RunAnalysis } from "./analyzer.ts";
import { metricName } from "./metrics.ts";
import { parseNumber } from "./numbers.ts";
import { openLog, readOpenedText } from "./open.ts";

/**
 * MLflow's file store (`mlflow.set_tracking_uri("file:./mlruns")`, the default without a server):
 * `mlruns/<experiment>/<run>/metrics/<key>`, one `timestamp value step` line per logged value
 * (`train/loss` is the file `metrics/train/loss`), the value as Python prints a float (`nan`, `inf`).
 */
const MAX_FILE_BYTES = 64 * 1024 * 1024;
const MAX_KEYS = 64;
const LINE = /^(\d{1,20}) (\S{1,80}) (-?\d{1,20})$/;

export interface MlflowRead {
  /** The run directory read (mlruns/<experiment>/<run>). */
  path: string;
  points: number;
  bytes: number;
  note?: string;
}

async function dirs(d: string): Promise<string[]> {
  try {
    return (await readdir(d, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.isSymbolicLink()).map((e) => join(d, e.name));
  } catch {
    return [];
  }
}

/** The newest MLflow run under `<dir>/mlruns` (by its metrics directory's mtime), or undefined. */
export async function findMlflowRun(dir: string): Promise<string | undefined> {
  let best: { path: string; mtime: number } | undefined;
  for (const exp of await dirs(join(dir, "mlruns"))) {
    for (const run of await dirs(exp)) {
      const m = await stat(join(run, "metrics")).then(
        (s) => (s.isDirectory() ? s.mtimeMs : -1),
        () => -1,
      );
      if (m >= 0 && (!best || m > best.mtime)) best = { path: run, mtime: m };
    }
  }
  return best?.path;
}

/** Every metric file of the run (keys with `/` are nested directories), at most MAX_KEYS. */
export async function metricFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, depth: number): Promise<void> => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (out.length >= MAX_KEYS) return;
      const p = join(d, e.name);
      if (e.isFile()) out.push(p);
      else if (e.isDirectory() && depth < 8) await walk(p, depth + 1);
    }
  };
  await walk(root, 0);
  return out;
}

/** Reads the run's metric files into `run` (regular files only, each up to its size when opened). */
export async function readMlflowRun(runDir: string, run: RunAnalysis): Promise<MlflowRead> {
  const root = join(runDir, "metrics");
  let points = 0;
  let bytes = 0;
  const notes: string[] = [];
  for (const file of await metricFiles(root)) {
    const key = relative(root, file).split(sep).join("/");
    const opened = await openLog(file);
    if (!opened.ok) continue;
    const read = await readOpenedText(opened.handle, opened.size, MAX_FILE_BYTES);
    const text = read.text;
    bytes += read.bytes;
    const lines = text.split("\n");
    // A last line without its newline is still being written: not read (the next run reads it whole).
    const partial = lines.pop() !== "";
    if (partial) notes.push(`${file}: last line incomplete (still being written): not read`);
    const name = metricName(key);
    for (let i = 0; i < lines.length; i++) {
      const m = LINE.exec(lines[i]!);
      if (!m) continue;
      const value = parseNumber(m[2]!);
      if (value === undefined) continue;
      run.metric(name, Number(m[3]), m[2]!, value, file, i + 1);
      points += 1;
    }
  }
  return { path: runDir, points, bytes, ...(notes.length > 0 ? { note: notes.join("; ") } : {}) };
}
