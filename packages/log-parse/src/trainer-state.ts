import type { RunAnalysis } from "./analyzer.ts";
import { metricName } from "./metrics.ts";
import { parseNumber } from "./numbers.ts";
import { openLog, readOpenedText } from "./open.ts";

/**
 * HF Trainer's `trainer_state.json` (in `output_dir/` and each `checkpoint-N/`): Python's
 * `json.dumps(asdict(state), indent=2, sort_keys=True)`, so non-finite values are the bare tokens
 * `NaN`, `Infinity`, `-Infinity` (not JSON), and `log_history` holds one dict per logging step:
 * `{"epoch": 0.5, "grad_norm": NaN, "learning_rate": 2e-05, "loss": 0.0, "step": 10}` and the
 * `eval_*` and `train_runtime` dicts. Exact where the console shows rounded (or NaN-filtered) values.
 */
const MAX_BYTES = 256 * 1024 * 1024;
const NOT_SERIES = new Set(["step", "epoch", "total_flos"]);

export interface TrainerStateRead {
  entries: number;
  bytes: number;
  /** What was not read, naming the file (a truncated file: the complete entries before still count). */
  note?: string;
}

/** Python's non-finite tokens outside strings, made strings (`NaN` -> `"NaN"`) so JSON.parse takes them. */
export function pythonJson(text: string): string {
  let out = "";
  let from = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
      continue;
    }
    if (c === 34) {
      inString = true;
      continue;
    }
    const n = c === 78 && text.startsWith("NaN", i) ? 3 : c === 73 && text.startsWith("Infinity", i) ? 8 : c === 45 && text.startsWith("-Infinity", i) ? 9 : 0;
    if (n === 0) continue;
    out += `${text.slice(from, i)}"${text.slice(i, i + n)}"`;
    i += n - 1;
    from = i + 1;
  }
  return out + text.slice(from);
}

/**
 * The complete `{...}` objects of the `log_history` array, with their offsets, read up to where the
 * text ends (a run still writing or killed leaves a file cut anywhere).
 */
export function logHistoryObjects(text: string): { objects: { at: number; text: string }[]; complete: boolean } {
  const key = text.indexOf('"log_history"');
  const open = key < 0 ? -1 : text.indexOf("[", key);
  const objects: { at: number; text: string }[] = [];
  if (open < 0) return { objects, complete: false };
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = open + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
      continue;
    }
    if (c === 34) inString = true;
    else if (c === 123) {
      if (depth++ === 0) start = i;
    } else if (c === 125) {
      if (--depth === 0) objects.push({ at: start, text: text.slice(start, i + 1) });
    } else if (c === 93 && depth === 0) return { objects, complete: true };
  }
  return { objects, complete: false };
}

/** Reads `log_history` into the run's series (a regular file only, up to its size when opened). */
export async function readTrainerState(path: string, run: RunAnalysis): Promise<TrainerStateRead> {
  const opened = await openLog(path);
  if (!opened.ok) return { entries: 0, bytes: 0, note: opened.exists ? opened.message : `${path}: no such file` };
  const { text } = await readOpenedText(opened.handle, opened.size, MAX_BYTES);
  const { objects, complete } = logHistoryObjects(text);
  let entries = 0;
  let line = 1;
  let counted = 0;
  for (const o of objects) {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(pythonJson(o.text)) as Record<string, unknown>;
    } catch {
      continue;
    }
    // The entry's line, for evidence: count the newlines since the previous entry.
    for (let i = text.indexOf("\n", counted); i >= 0 && i < o.at; i = text.indexOf("\n", i + 1)) {
      line++;
      counted = i + 1;
    }
    const step = typeof entry.step === "number" && Number.isFinite(entry.step) ? entry.step : undefined;
    entries += 1;
    for (const [k, v] of Object.entries(entry)) {
      if (NOT_SERIES.has(k) || (typeof v !== "number" && typeof v !== "string")) continue;
      const raw = String(v);
      const value = typeof v === "number" ? v : parseNumber(raw);
      if (value === undefined) continue;
      run.metric(metricName(k), step, raw, value, path, line);
    }
  }
  const truncated = opened.size > MAX_BYTES ? ` (read only the first ${MAX_BYTES} bytes)` : "";
  if (!complete)
    return { entries, bytes: opened.size, note: `${path}: ${objects.length === 0 && !text.includes('"log_history"') ? "no log_history" : `log_history ends early (a run still writing, or killed): read its ${entries} complete entries`}${truncated}` };
  return { entries, bytes: opened.size };
}
