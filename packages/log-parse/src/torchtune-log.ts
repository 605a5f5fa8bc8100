import type { RunAnalysis } from "./analyzer.ts";
import { NOT_METRICS, metricName } from "./metrics.ts";
import { parseNumber } from "./numbers.ts";
import { findNewestFile } from "./newest-file.ts";
import { openLog, readOpenedText } from "./open.ts";

/**
 * torchtune's DiskLogger (`metric_logger._component_: torchtune.training.metric_logging.DiskLogger`,
 * `log_dir: ${output_dir}/logs`) writes `<log_dir>/log_<unix time>.txt`, one line per logging step:
 *   `log_dict`: `Step 12 | loss:1.1174635887145996 lr:2e-05 tokens_per_second_per_gpu:542.97 ` (a space after each pair)
 *   `log`:      `Step 12 | loss:1.1174635887145996`
 * each value as Python prints it (`nan`, `inf`). The same line shape as its StdoutLogger, but the
 * whole run, unrounded, and kept when the console log is lost or rotated.
 */
const FILE = /^log_\d{1,20}\.txt$/;
const LINE = /^Step (\d{1,20}) \| (.*)$/;
const PAIR = /([A-Za-z_][\w./-]{0,63}):(\S{1,80})/g;
const MAX_BYTES = 256 * 1024 * 1024;

export interface TorchtuneLogRead {
  lines: number;
  points: number;
  bytes: number;
  note?: string;
}

/** The newest `log_<digits>.txt` under `dir` (breadth-first, at most 4 levels and 500 directories). */
export async function findTorchtuneLog(dir: string): Promise<string | undefined> {
  return findNewestFile(dir, (name) => FILE.test(name), 4);
}

/** Reads the DiskLogger file into `run` (a regular file only, up to its size when opened). */
export async function readTorchtuneLog(path: string, run: RunAnalysis): Promise<TorchtuneLogRead> {
  const opened = await openLog(path);
  if (!opened.ok) return { lines: 0, points: 0, bytes: 0, note: opened.exists ? opened.message : `${path}: no such file` };
  const read = await readOpenedText(opened.handle, opened.size, MAX_BYTES);
  const lines = read.text.split("\n");
  // The last line without its newline is still being written (DiskLogger writes a line in pieces).
  const partial = lines.pop() !== "";
  let points = 0;
  let steps = 0;
  for (let i = 0; i < lines.length; i++) {
    const m = LINE.exec(lines[i]!);
    if (!m) continue;
    steps += 1;
    const step = Number(m[1]);
    PAIR.lastIndex = 0;
    for (let p = PAIR.exec(m[2]!); p; p = PAIR.exec(m[2]!)) {
      const name = metricName(p[1]!);
      if (NOT_METRICS.has(name)) continue;
      const value = parseNumber(p[2]!);
      if (value === undefined) continue;
      run.metric(name, Number.isFinite(step) ? step : undefined, p[2]!, value, path, i + 1);
      points += 1;
    }
  }
  const notes: string[] = [];
  if (partial) notes.push(`${path}: last line incomplete (a run still writing, or killed): read its ${steps} complete steps`);
  if (opened.size > MAX_BYTES) notes.push(`${path}: read only the first ${MAX_BYTES} bytes`);
  return { lines: lines.length, points, bytes: read.bytes, ...(notes.length > 0 ? { note: notes.join("; ") } : {}) };
}
