/** Axis scales and tick positions for the hand-written SVG plots. Pure and deterministic. */

export interface Scale {
  log: boolean;
  min: number;
  max: number;
  /** Maps a data value to a pixel position between `from` and `to`. */
  map(value: number): number;
  ticks: number[];
}

export function linearScale(min: number, max: number, from: number, to: number, tickCount = 5): Scale {
  const ticks = niceTicks(min, max, tickCount);
  // Extend the domain to the outer ticks so the curve never touches the frame.
  const lo = Math.min(min, ticks[0] ?? min);
  const hi = Math.max(max, ticks[ticks.length - 1] ?? max);
  const span = hi - lo || 1;
  return { log: false, min: lo, max: hi, ticks, map: (v) => from + ((v - lo) / span) * (to - from) };
}

export function logScale(min: number, max: number, from: number, to: number): Scale {
  const lo = 10 ** Math.floor(Math.log10(min));
  const hi = 10 ** Math.ceil(Math.log10(max));
  const a = Math.log10(lo);
  const b = Math.log10(hi) === a ? a + 1 : Math.log10(hi);
  const ticks: number[] = [];
  const decades = b - a;
  for (let e = a; e <= b; e++) {
    ticks.push(10 ** e);
    // Few decades: 2x and 5x ticks keep the axis readable.
    if (decades <= 2 && e < b) ticks.push(2 * 10 ** e, 5 * 10 ** e);
  }
  ticks.sort((x, y) => x - y);
  return {
    log: true,
    min: lo,
    max: 10 ** b,
    ticks,
    map: (v) => from + ((Math.log10(Math.max(v, lo)) - a) / (b - a)) * (to - from),
  };
}

/** 1-2-5 ticks covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (min === max) {
    const d = Math.abs(min) * 0.1 || 1;
    min -= d;
    max += d;
  }
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const first = Math.floor(min / step) * step;
  const ticks: number[] = [];
  // Up to the first tick at or above max, so the axis' last label is a round number, not the data's max.
  for (let v = first; ticks.length < 50; v += step) {
    ticks.push(roundTo(v, step));
    if (v >= max - step * 1e-9) break;
  }
  return ticks;
}

function roundTo(v: number, step: number): number {
  const digits = Math.max(0, -Math.floor(Math.log10(step)) + 2);
  return Number(v.toFixed(Math.min(20, digits)));
}

/** Decide log scale: values all positive and spanning at least two decades. */
export function wantsLog(values: readonly number[], mode: "auto" | "on" | "off"): boolean {
  if (mode === "off" || values.length === 0) return false;
  const min = Math.min(...values);
  const max = Math.max(...values);
  if (min <= 0) return false;
  return mode === "on" || max / min >= 100;
}

/** Tick label: short, stable ("0.5", "1e-3", "2k" is avoided: steps read better in full). */
export function tickLabel(v: number, log = false): string {
  if (v === 0) return "0";
  const abs = Math.abs(v);
  if (log && (abs < 1e-2 || abs >= 1e4)) {
    const e = Math.floor(Math.log10(abs));
    const m = v / 10 ** e;
    return Math.abs(m - 1) < 1e-9 ? `1e${e}` : `${Number(m.toFixed(2))}e${e}`;
  }
  if (abs >= 1e6 || abs < 1e-4) return v.toExponential(1).replace("e+", "e");
  return String(Number(v.toPrecision(4)));
}

/** Pixel coordinate with one decimal: small files, byte-identical output. */
export function px(v: number): string {
  return String(Math.round(v * 10) / 10);
}

/** Escapes text for XML content and attribute values. */
export function xmlEscape(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;")
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "")
    // Lone surrogates (broken UTF-16 from a log) are not characters either.
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");
}
