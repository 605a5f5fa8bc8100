import type { LossTrend } from "@slurmpipe/core";

/**
 * The loss-trend verdict, robust to noise: the median of the first 10% of the values (at least 3)
 * is compared with the median of the last 10% (at least 3), never two single points.
 *
 *   NAN         any non-finite loss was seen (decided by the caller, before this function)
 *   NO_DATA     fewer than 2 finite values
 *   DIVERGING   end median >= start median + 10% of |start|, or the median of the last 3
 *               values is over 10x |start| (an explosion too recent to move the 10% window)
 *   DECREASING  end median <= start median - 5% of |start|
 *   FLAT        anything in between
 * With fewer than 6 values the windows are the first and last halves.
 */
export const TREND = {
  window: 0.1,
  minWindow: 3,
  decreaseRel: 0.05,
  divergeRel: 0.1,
  explodeFactor: 10,
} as const;

export interface TrendDetail {
  trend: LossTrend;
  start?: number;
  end?: number;
  change?: number;
}

export function median(values: ArrayLike<number>): number {
  // A Float64Array sorts numerically, natively (no comparator called per pair).
  const s = Float64Array.from(values).sort();
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function lossTrend(values: ArrayLike<number>, hasNonFinite = false): TrendDetail {
  if (hasNonFinite) return { trend: "NAN" };
  const v = finite(values);
  if (v.length < 2) return { trend: "NO_DATA" };
  const w = v.length < 2 * TREND.minWindow ? Math.floor(v.length / 2) : Math.max(TREND.minWindow, Math.ceil(v.length * TREND.window));
  const start = median(v.slice(0, w));
  const end = median(v.slice(v.length - w));
  const scale = Math.max(Math.abs(start), 1e-12);
  const change = (end - start) / scale;
  const recent = median(v.slice(Math.max(0, v.length - TREND.minWindow)));
  let trend: LossTrend;
  if (change >= TREND.divergeRel || (recent - start) / scale > TREND.explodeFactor) trend = "DIVERGING";
  else if (change <= -TREND.decreaseRel) trend = "DECREASING";
  else trend = "FLAT";
  return { trend, start, end, change };
}

/** The finite values, in order, as a Float64Array (the values themselves when all are). */
function finite(values: ArrayLike<number>): Float64Array {
  const all = values instanceof Float64Array ? values : Float64Array.from(values);
  for (let i = 0; i < all.length; i++) if (!Number.isFinite(all[i]!)) return all.filter(Number.isFinite);
  return all;
}
