import { UsageError } from "../ndjson/errors.ts";

const UNITS: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** "5s", "1.5m", "500ms", "2h", "1d"; a bare number is seconds. Returns milliseconds. */
export function parseHumanDuration(text: string | number, option = "duration"): number {
  if (typeof text === "number") return text * 1000;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h|d)?\s*$/.exec(text);
  if (!m) throw new UsageError(`--${option}: expected a duration like 5s, 2m, 500ms or 1h, got ${JSON.stringify(text)}`);
  return Math.round(Number(m[1]) * UNITS[m[2] ?? "s"]!);
}

/** "10/1m" -> at most 10 per minute. */
export function parseRate(text: string, option = "rate"): { count: number; periodMs: number } {
  const m = /^\s*(\d+)\s*\/\s*(.+)$/.exec(text);
  if (!m || Number(m[1]) < 1) throw new UsageError(`--${option}: expected N/period like 10/1m, got ${JSON.stringify(text)}`);
  const period = /^\d/.test(m[2]!) ? m[2]! : `1${m[2]}`;
  return { count: Number(m[1]), periodMs: parseHumanDuration(period, option) };
}
