import { formatDuration, formatMemory } from "@slurmpipe/core";

/** Markdown text helpers. Every value from a record is untrusted: it may hold pipes, backticks, HTML, newlines. */

// ANSI colour codes and other control characters never belong in a report.
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b[@-Z\\-_]/g;
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/g;

/** One line of plain text: ANSI and control characters gone, newlines and tabs folded to spaces. */
export function oneLine(text: string, max = 200): string {
  const flat = text.replace(ANSI, "").replace(/\r?\n|\r|\t/g, " ").replace(CONTROL, "").replace(/ {2,}/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Escapes text for a markdown paragraph or table cell: no emphasis, links, HTML or cell breaks. */
export function mdText(text: string, max = 200): string {
  return oneLine(text, max).replace(/([\\`*_[\]<>|#~])/g, "\\$1");
}

/** Same for a table cell where the run name should stay readable: `_` and `#` are harmless there. */
export function mdCell(text: string, max = 200): string {
  return oneLine(text, max).replace(/([\\`*[\]<>|~])/g, "\\$1");
}

/**
 * A CommonMark code span holding `text` verbatim: the fence is one backtick longer than the
 * longest backtick run inside, padded with spaces when the text starts or ends with a backtick.
 * In a table cell a pipe must still be escaped (GFM splits cells before parsing code spans).
 */
export function codeSpan(text: string, options: { inTable?: boolean; max?: number } = {}): string {
  let body = oneLine(text, options.max ?? 300);
  if (body === "") return "` `";
  if (options.inTable) body = body.replace(/\|/g, "\\|");
  const longest = Math.max(0, ...(body.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(longest + 1);
  const pad = body.startsWith("`") || body.endsWith("`") || (body.startsWith(" ") && body.endsWith(" ")) ? " " : "";
  return `${fence}${pad}${body}${pad}${fence}`;
}

/** "2025-10-24 00:05:32" in UTC (reproducible; the report says the zone once). */
export function formatTime(iso: string | undefined): string | undefined {
  if (!iso) return undefined;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return undefined;
  return d.toISOString().slice(0, 19).replace("T", " ");
}

export function formatElapsed(seconds: number | undefined): string | undefined {
  return seconds === undefined ? undefined : formatDuration(seconds);
}

/** Bytes as people read them on a cluster: "37.5G", "812M". */
export function formatBytes(bytes: number | undefined): string | undefined {
  if (bytes === undefined) return undefined;
  const units = ["K", "M", "G", "T", "P"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)}${units[unit]}`;
}

/** Memory as sbatch --mem takes it (rounded up), for commands. */
export const memoryFlag = formatMemory;

export function percent(part: number, whole: number): string {
  if (whole <= 0) return "-";
  const p = (100 * part) / whole;
  let digits = p >= 10 || p === 0 ? 0 : 1;
  // A share is never shown as 100% (or 0%) unless it is exactly that: 215 of 216 completed is
  // 99.5%, not "100%" beside a failed run. More decimals until the rounding no longer lies.
  const lies = (d: number) => (part !== whole && Number(p.toFixed(d)) === 100) || (part !== 0 && Number(p.toFixed(d)) === 0);
  while (lies(digits) && digits < 3) digits++;
  if (lies(digits)) return p > 50 ? ">99.999%" : "<0.001%";
  return `${p.toFixed(digits)}%`;
}

/** Loss values: short, stable, scientific notation for very small or large. */
export function formatNumber(value: number | null | undefined): string {
  if (value === undefined) return "-";
  if (value === null || !Number.isFinite(value)) return value === null ? "NaN" : String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(3);
  return String(Number(value.toPrecision(5)));
}

/** Natural order: "run2" before "run10". Locale-independent so output is identical everywhere. */
export function naturalCompare(a: string, b: string): number {
  const re = /(\d+)|(\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (x === y) continue;
    const nx = /^\d/.test(x);
    const ny = /^\d/.test(y);
    if (nx && ny) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** A file-name-safe slug; `used` keeps slugs unique within one report. */
export function slug(text: string, used?: Set<string>): string {
  let base = text.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[.]+/, "_").slice(0, 120) || "run";
  if (used) {
    let candidate = base;
    for (let i = 2; used.has(candidate.toLowerCase()); i++) candidate = `${base}-${i}`;
    base = candidate;
    used.add(base.toLowerCase());
  }
  return base;
}

/** A relative link target with each path segment URL-encoded (spaces, parentheses, #). */
export function linkTarget(relPath: string): string {
  return relPath
    .split("/")
    .map((seg) => encodeURIComponent(seg).replace(/[()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join("/");
}

