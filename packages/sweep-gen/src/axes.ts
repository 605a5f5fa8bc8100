import { type RangeSpec, rangeValue } from "./axis-values.ts";
import type { Distribution } from "./plan.ts";

const NUM = String.raw`[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?`;
const RANGE = new RegExp(String.raw`^\s*(${NUM})\s*\.\.\s*(${NUM})\s*(?::\s*(${NUM}))?\s*$`);
/** expandRange materialises its values: keep that array sane (the sweep itself never expands a range). */
export const MAX_AXIS_VALUES = 1_000_000;

export class AxisSyntaxError extends Error {}

export function isRange(text: string): boolean {
  return RANGE.test(text);
}

/**
 * `a..b` (integers, both ends included), `a..b:step` (any numbers), as arithmetic: values
 * a + i*step rounded to 12 significant digits (`0..1:0.1` gives 0.3, not 0.30000000000000004).
 */
export function parseRange(text: string): RangeSpec {
  const m = RANGE.exec(text);
  if (!m) throw new AxisSyntaxError(`not a range: ${JSON.stringify(text)} (expected a..b or a..b:step)`);
  const a = Number(m[1]);
  const b = Number(m[2]);
  const step = m[3] === undefined ? 1 : Number(m[3]);
  if (m[3] === undefined && !(Number.isInteger(a) && Number.isInteger(b))) {
    throw new AxisSyntaxError(`range ${JSON.stringify(text)} has non-integer ends: give a step, e.g. ${m[1]}..${m[2]}:0.1`);
  }
  if (!(step > 0)) throw new AxisSyntaxError(`range ${JSON.stringify(text)}: the step must be greater than 0`);
  if (a > b) throw new AxisSyntaxError(`range ${JSON.stringify(text)}: the start is greater than the end`);
  if (!Number.isFinite(a) || !Number.isFinite(b)) throw new AxisSyntaxError(`range ${JSON.stringify(text)}: the ends must be finite numbers`);
  return { a, step, count: Math.floor((b - a) / step + 1e-9) + 1 };
}

/** The values of a range as an array (for library callers; at most MAX_AXIS_VALUES of them). */
export function expandRange(text: string): number[] {
  const r = parseRange(text);
  if (r.count > MAX_AXIS_VALUES) throw new AxisSyntaxError(`range ${JSON.stringify(text)} has ${r.count} values, more than ${MAX_AXIS_VALUES} to hold in an array`);
  return Array.from({ length: r.count }, (_, i) => rangeValue(r, i));
}

export const DISTRIBUTIONS = ["uniform", "log_uniform", "int_uniform", "choice"] as const;
export type DistributionKind = (typeof DISTRIBUTIONS)[number];

/** Checks the bounds of a continuous distribution; returns a message when they are wrong. */
export function checkBounds(kind: "uniform" | "log_uniform" | "int_uniform", lo: unknown, hi: unknown): string | undefined {
  if (typeof lo !== "number" || typeof hi !== "number" || !Number.isFinite(lo) || !Number.isFinite(hi)) return `${kind} needs two numbers [low, high]`;
  if (!(lo < hi)) return `${kind}: low (${lo}) must be less than high (${hi})`;
  if (kind === "log_uniform" && lo <= 0) return `log_uniform needs low > 0 (got ${lo})`;
  if (kind === "int_uniform" && !(Number.isInteger(lo) && Number.isInteger(hi))) return "int_uniform needs integer bounds";
  return undefined;
}

/** Maps a uniform draw u in [0,1) onto a distribution; floats are rounded to `digits` significant digits. */
export function drawValue(dist: Distribution, u: number, digits: number): { value: number; choice?: number } {
  switch (dist.kind) {
    case "uniform":
      return { value: clamp(round(dist.lo + u * (dist.hi - dist.lo), digits), dist.lo, dist.hi) };
    case "log_uniform": {
      const x = Math.exp(Math.log(dist.lo) + u * (Math.log(dist.hi) - Math.log(dist.lo)));
      return { value: clamp(round(x, digits), dist.lo, dist.hi) };
    }
    case "int_uniform":
      return { value: Math.min(dist.hi, dist.lo + Math.floor(u * (dist.hi - dist.lo + 1))) };
    case "choice": {
      const i = Math.min(dist.values.length - 1, Math.floor(u * dist.values.length));
      return { value: i, choice: i };
    }
  }
}

function round(x: number, digits: number): number {
  return Number(x.toPrecision(digits));
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
