import { type Scale, linearScale, logScale, px, tickLabel, wantsLog, xmlEscape } from "./scale.ts";

/** Loss curves as hand-written SVG: valid XML, a viewBox, escaped text, fixed fonts, byte-stable. */

export interface Point {
  step: number;
  /** null: NaN or inf in the log. */
  value: number | null;
}

export interface Curve {
  name: string;
  points: Point[];
  /** Shown under a small-multiples panel and used for the frame colour. */
  status?: string;
  subtitle?: string;
}

export type LogMode = "auto" | "on" | "off";

const FONT = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif";
const NAN_COLOR = "#d62728";
const LINE_COLOR = "#1f77b4";

const STATUS_COLORS: Record<string, string> = {
  COMPLETED: "#2ca02c",
  RUNNING: "#1f77b4",
  PENDING: "#9aa5b1",
  FAILED: "#d62728",
  TIMEOUT: "#ff7f0e",
  OUT_OF_MEMORY: "#9467bd",
  CANCELLED: "#8c564b",
  NODE_FAIL: "#e377c2",
  PREEMPTED: "#e377c2",
};

export function open(width: number, height: number, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}" font-size="11">`,
    `<title>${xmlEscape(title)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
  ];
}

function finite(points: readonly Point[], log: boolean): number[] {
  const out: number[] = [];
  for (const p of points) if (p.value !== null && Number.isFinite(p.value) && (!log || p.value > 0)) out.push(p.value);
  return out;
}

function sorted(points: readonly Point[]): Point[] {
  return [...points].filter((p) => Number.isFinite(p.step)).sort((a, b) => a.step - b.step);
}

export function yScale(values: readonly number[], mode: LogMode, from: number, to: number): Scale {
  const useLog = wantsLog(values, mode);
  const vals = useLog ? values.filter((v) => v > 0) : values;
  const min = vals.length ? Math.min(...vals) : 0;
  const max = vals.length ? Math.max(...vals) : 1;
  return useLog ? logScale(min, max, from, to) : linearScale(min, max, from, to, 5);
}

export function xScale(points: readonly Point[], from: number, to: number, count: number): Scale {
  const steps = points.map((p) => p.step);
  const min = steps.length ? Math.min(...steps) : 0;
  const max = steps.length ? Math.max(...steps) : 1;
  return linearScale(min, max === min ? min + 1 : max, from, to, count);
}

/** The path of one curve, broken where the value is not finite (or not positive on a log axis). */
function curvePath(points: readonly Point[], x: Scale, y: Scale): string {
  const parts: string[] = [];
  let pen = false;
  for (const p of points) {
    const ok = p.value !== null && Number.isFinite(p.value) && (!y.log || p.value > 0);
    if (!ok) {
      pen = false;
      continue;
    }
    parts.push(`${pen ? "L" : "M"}${px(x.map(p.step))} ${px(y.map(p.value as number))}`);
    pen = true;
  }
  return parts.join(" ");
}

/** Marks at the top of the plot where the loss was NaN/inf: a red cross per point. */
function nanMarks(points: readonly Point[], x: Scale, top: number, size: number): string[] {
  const out: string[] = [];
  for (const p of points) {
    if (p.value !== null && Number.isFinite(p.value)) continue;
    const cx = x.map(p.step);
    out.push(
      `<path d="M${px(cx - size)} ${px(top - size)} L${px(cx + size)} ${px(top + size)} M${px(cx - size)} ${px(top + size)} L${px(cx + size)} ${px(top - size)}" stroke="${NAN_COLOR}" stroke-width="1.5"/>`,
    );
  }
  return out;
}

export interface RunPlotOptions {
  logY?: LogMode;
  width?: number;
  height?: number;
}

/** One run's loss curve with axes, ticks, labels and NaN marks; the title is the run name. */
export function runPlotSvg(curve: Curve, options: RunPlotOptions = {}): string {
  const width = options.width ?? 720;
  const height = options.height ?? 400;
  const m = { left: 72, right: 24, top: curve.subtitle ? 52 : 40, bottom: 52 };
  const pts = sorted(curve.points);
  const plotTop = m.top;
  const plotBottom = height - m.bottom;
  const y = yScale(finite(pts, false), options.logY ?? "auto", plotBottom, plotTop);
  const x = xScale(pts, m.left, width - m.right, 6);
  const out = open(width, height, `${curve.name}: loss`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${xmlEscape(curve.name)}</text>`);
  if (curve.subtitle)
    out.push(`<text x="${width / 2}" y="40" text-anchor="middle" font-size="11" fill="#555555">${xmlEscape(curve.subtitle)}</text>`);
  // Grid and ticks.
  out.push(`<g stroke="#e5e5e5" stroke-width="1">`);
  for (const t of y.ticks) out.push(`<line x1="${m.left}" y1="${px(y.map(t))}" x2="${width - m.right}" y2="${px(y.map(t))}"/>`);
  for (const t of x.ticks) out.push(`<line x1="${px(x.map(t))}" y1="${plotTop}" x2="${px(x.map(t))}" y2="${plotBottom}"/>`);
  out.push("</g>");
  out.push(`<g fill="#333333" font-size="11">`);
  for (const t of y.ticks)
    out.push(`<text x="${m.left - 6}" y="${px(y.map(t) + 4)}" text-anchor="end">${xmlEscape(tickLabel(t, y.log))}</text>`);
  for (const t of x.ticks) out.push(`<text x="${px(x.map(t))}" y="${plotBottom + 16}" text-anchor="middle">${xmlEscape(tickLabel(t))}</text>`);
  out.push("</g>");
  out.push(`<rect x="${m.left}" y="${plotTop}" width="${width - m.left - m.right}" height="${plotBottom - plotTop}" fill="none" stroke="#333333"/>`);
  out.push(`<text x="${(m.left + width - m.right) / 2}" y="${height - 12}" text-anchor="middle" font-size="12">step</text>`);
  out.push(
    `<text x="16" y="${(plotTop + plotBottom) / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 16 ${(plotTop + plotBottom) / 2})">${y.log ? "loss (log scale)" : "loss"}</text>`,
  );
  const d = curvePath(pts, x, y);
  if (d) out.push(`<path d="${d}" fill="none" stroke="${LINE_COLOR}" stroke-width="1.8" stroke-linejoin="round"/>`);
  out.push(...isolatedDots(pts, x, y, 3, LINE_COLOR));
  const marks = nanMarks(pts, x, plotTop + 8, 5);
  if (marks.length) {
    out.push(...marks);
    out.push(`<text x="${width - m.right - 4}" y="${plotTop + 26}" text-anchor="end" fill="${NAN_COLOR}" font-size="11">× NaN/inf loss (${marks.length})</text>`);
  }
  if (pts.length === 0)
    out.push(`<text x="${(m.left + width - m.right) / 2}" y="${(plotTop + plotBottom) / 2}" text-anchor="middle" fill="#888888" font-size="14">no loss data</text>`);
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

/** A finite point between two gaps draws no line: show it as a dot so it is not lost. */
function isolatedDots(points: readonly Point[], x: Scale, y: Scale, r: number, color: string): string[] {
  const ok = (p: Point | undefined) => p !== undefined && p.value !== null && Number.isFinite(p.value) && (!y.log || p.value > 0);
  const out: string[] = [];
  points.forEach((p, i) => {
    if (ok(p) && !ok(points[i - 1]) && !ok(points[i + 1]))
      out.push(`<circle cx="${px(x.map(p.step))}" cy="${px(y.map(p.value as number))}" r="${r}" fill="${color}"/>`);
  });
  return out;
}

export interface OverviewOptions {
  title: string;
  logY?: LogMode;
  columns?: number;
}

/**
 * Small multiples: one compact panel per run, a shared x and y range for the whole group so
 * panels compare at a glance, the run name under each panel (full name as a tooltip), the frame
 * coloured by status. 6 columns x 9 rows reads well for a 54-run group.
 */
export function overviewSvg(curves: readonly Curve[], options: OverviewOptions): string {
  const cols = Math.max(1, Math.min(options.columns ?? 6, curves.length));
  const rows = Math.max(1, Math.ceil(curves.length / cols));
  const pw = 170;
  const ph = 96;
  const label = 30;
  const gap = 14;
  const left = 50;
  const top = 58;
  const width = left + cols * (pw + gap) + 6;
  const height = top + rows * (ph + label + gap) + 8;
  const all = curves.flatMap((c) => sorted(c.points));
  const y0 = yScale(finite(all, false), options.logY ?? "auto", ph, 0);
  const x0 = xScale(all, 0, pw, 3);
  const out = open(width, height, options.title);
  out.push(`<text x="${left}" y="22" font-size="15" font-weight="bold">${xmlEscape(options.title)}</text>`);
  const range = `shared y ${tickLabel(y0.min, y0.log)} to ${tickLabel(y0.max, y0.log)}${y0.log ? " (log scale)" : ""}, steps ${tickLabel(x0.min)} to ${tickLabel(x0.max)}`;
  out.push(`<text x="${left}" y="40" font-size="11" fill="#555555">${xmlEscape(`${curves.length} runs · ${range}`)}</text>`);
  legend(out, width - 8, 40, curves);
  curves.forEach((curve, i) => {
    const col = i % cols;
    const row = Math.floor(i / cols);
    const ox = left + col * (pw + gap);
    const oy = top + row * (ph + label + gap);
    const pts = sorted(curve.points);
    const x = shift(x0, ox);
    const y = shift(y0, oy);
    const frame = STATUS_COLORS[curve.status ?? ""] ?? "#9aa5b1";
    out.push(`<g>`);
    out.push(`<title>${xmlEscape(`${curve.name}${curve.status ? ` (${curve.status})` : ""}${curve.subtitle ? `: ${curve.subtitle}` : ""}`)}</title>`);
    out.push(`<rect x="${ox}" y="${oy}" width="${pw}" height="${ph}" fill="#fafafa" stroke="${frame}" stroke-width="1.5"/>`);
    for (const t of y0.ticks.slice(1, -1)) out.push(`<line x1="${ox}" y1="${px(y.map(t))}" x2="${ox + pw}" y2="${px(y.map(t))}" stroke="#ececec"/>`);
    const d = curvePath(pts, x, y);
    if (d) out.push(`<path d="${d}" fill="none" stroke="${LINE_COLOR}" stroke-width="1.2" stroke-linejoin="round"/>`);
    out.push(...isolatedDots(pts, x, y, 2, LINE_COLOR));
    out.push(...nanMarks(pts, x, oy + 6, 3.5));
    if (pts.length === 0) out.push(`<text x="${ox + pw / 2}" y="${oy + ph / 2 + 4}" text-anchor="middle" fill="#999999" font-size="10">no loss data</text>`);
    out.push(`<text x="${ox + pw / 2}" y="${oy + ph + 12}" text-anchor="middle" font-size="10">${xmlEscape(truncate(curve.name, 30))}</text>`);
    if (curve.status)
      out.push(`<text x="${ox + pw / 2}" y="${oy + ph + 24}" text-anchor="middle" font-size="9" fill="${frame}">${xmlEscape(curve.status)}</text>`);
    if (col === 0) {
      out.push(`<text x="${ox - 4}" y="${oy + 9}" text-anchor="end" font-size="9" fill="#555555">${xmlEscape(tickLabel(y0.max, y0.log))}</text>`);
      out.push(`<text x="${ox - 4}" y="${oy + ph}" text-anchor="end" font-size="9" fill="#555555">${xmlEscape(tickLabel(y0.min, y0.log))}</text>`);
    }
    out.push("</g>");
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

function legend(out: string[], right: number, y: number, curves: readonly Curve[]): void {
  const present = [...new Set(curves.map((c) => c.status).filter((s): s is string => Boolean(s)))];
  let x = right;
  for (const status of [...present].reverse()) {
    const color = STATUS_COLORS[status] ?? "#9aa5b1";
    const w = status.length * 7.2 + 24;
    x -= w;
    out.push(`<rect x="${px(x)}" y="${y - 9}" width="10" height="10" fill="none" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${px(x + 14)}" y="${y}" font-size="10" fill="#333333">${xmlEscape(status)}</text>`);
  }
}

export function shift(s: Scale, offset: number): Scale {
  return { ...s, map: (v) => offset + s.map(v) };
}

export function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export interface ColorByOptions {
  title: string;
  param: string;
  logY?: LogMode;
}

/**
 * All runs of a group on one axis, each line coloured by the value of one parameter (e.g. lr):
 * numbers on a sequential ramp by rank, anything else with a categorical palette.
 */
export function colorBySvg(curves: readonly (Curve & { value: unknown })[], options: ColorByOptions): string {
  const width = 900;
  const height = 520;
  const m = { left: 72, right: 190, top: 52, bottom: 52 };
  const all = curves.flatMap((c) => sorted(c.points));
  const y = yScale(finite(all, false), options.logY ?? "auto", height - m.bottom, m.top);
  const x = xScale(all, m.left, width - m.right, 6);
  const colors = colorMap(curves.map((c) => c.value));
  const out = open(width, height, options.title);
  out.push(`<text x="${m.left}" y="24" font-size="15" font-weight="bold">${xmlEscape(options.title)}</text>`);
  out.push(`<text x="${m.left}" y="42" font-size="11" fill="#555555">${xmlEscape(`${curves.length} runs, colour = ${options.param}`)}</text>`);
  out.push(`<g stroke="#e5e5e5">`);
  for (const t of y.ticks) out.push(`<line x1="${m.left}" y1="${px(y.map(t))}" x2="${width - m.right}" y2="${px(y.map(t))}"/>`);
  out.push("</g>");
  out.push(`<g fill="#333333">`);
  for (const t of y.ticks) out.push(`<text x="${m.left - 6}" y="${px(y.map(t) + 4)}" text-anchor="end">${xmlEscape(tickLabel(t, y.log))}</text>`);
  for (const t of x.ticks) out.push(`<text x="${px(x.map(t))}" y="${height - m.bottom + 16}" text-anchor="middle">${xmlEscape(tickLabel(t))}</text>`);
  out.push("</g>");
  out.push(`<rect x="${m.left}" y="${m.top}" width="${width - m.left - m.right}" height="${height - m.top - m.bottom}" fill="none" stroke="#333333"/>`);
  out.push(`<text x="${(m.left + width - m.right) / 2}" y="${height - 12}" text-anchor="middle" font-size="12">step</text>`);
  const cy = (m.top + height - m.bottom) / 2;
  out.push(`<text x="16" y="${cy}" text-anchor="middle" font-size="12" transform="rotate(-90 16 ${cy})">${y.log ? "loss (log scale)" : "loss"}</text>`);
  for (const c of curves) {
    const d = curvePath(sorted(c.points), x, y);
    if (!d) continue;
    out.push(`<path d="${d}" fill="none" stroke="${colors.of(c.value)}" stroke-width="1.3" stroke-opacity="0.75"><title>${xmlEscape(`${c.name}: ${options.param}=${show(c.value)}`)}</title></path>`);
  }
  for (const c of curves) out.push(...nanMarks(sorted(c.points), x, m.top + 8, 4));
  // Legend: one swatch per distinct value (at most 20, then the ramp's ends).
  const lx = width - m.right + 16;
  out.push(`<text x="${lx}" y="${m.top + 4}" font-size="12" font-weight="bold">${xmlEscape(options.param)}</text>`);
  colors.legend.slice(0, 20).forEach(([value, color], i) => {
    const ly = m.top + 22 + i * 18;
    out.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 22}" y2="${ly - 4}" stroke="${color}" stroke-width="3"/>`);
    out.push(`<text x="${lx + 28}" y="${ly}" font-size="11">${xmlEscape(truncate(value, 22))}</text>`);
  });
  if (colors.legend.length > 20)
    out.push(`<text x="${lx}" y="${m.top + 22 + 20 * 18}" font-size="10" fill="#555555">+${colors.legend.length - 20} more values</text>`);
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

function show(value: unknown): string {
  if (value === undefined) return "(none)";
  return typeof value === "string" ? value : JSON.stringify(value);
}

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
// Viridis stops: perceptually even, readable for colour-blind readers.
const RAMP = ["#440154", "#3b528b", "#21918c", "#5ec962", "#c8b21f"];

function colorMap(values: readonly unknown[]): { of: (v: unknown) => string; legend: [string, string][] } {
  const defined = values.filter((v) => v !== undefined);
  const distinct = [...new Map(defined.map((v) => [show(v), v])).values()];
  const numeric = distinct.length > 0 && distinct.every((v) => typeof v === "number");
  if (numeric) (distinct as number[]).sort((a, b) => a - b);
  else distinct.sort((a, b) => (show(a) < show(b) ? -1 : show(a) > show(b) ? 1 : 0));
  const table = new Map<string, string>();
  distinct.forEach((v, i) => {
    const color = numeric ? ramp(distinct.length === 1 ? 0.5 : i / (distinct.length - 1)) : (PALETTE[i % PALETTE.length] as string);
    table.set(show(v), color);
  });
  const legend: [string, string][] = [...table.entries()];
  if (defined.length < values.length) legend.push(["(none)", "#bbbbbb"]);
  return { of: (v) => (v === undefined ? "#bbbbbb" : (table.get(show(v)) ?? "#bbbbbb")), legend };
}

function ramp(t: number): string {
  const pos = t * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(pos));
  const f = pos - i;
  const a = hex(RAMP[i]!);
  const b = hex(RAMP[i + 1]!);
  const mix = a.map((c, k) => Math.round(c + (b[k]! - c) * f));
  return `#${mix.map((c) => c.toString(16).padStart(2, "0")).join("")}`;
}

function hex(color: string): number[] {
  return [1, 3, 5].map((i) => Number.parseInt(color.slice(i, i + 2), 16));
}
