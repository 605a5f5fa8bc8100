import { NAME_CHARS, type Val, type Where, formatNumber, makeVal } from "./values.ts";

/** `a..b:step` as arithmetic: `count` values `a + i*step`, each rounded to 12 significant digits. */
export interface RangeSpec {
  a: number;
  step: number;
  count: number;
}

export function rangeValue(r: RangeSpec, i: number): number {
  return Number((r.a + i * r.step).toPrecision(12));
}

type Segment = { kind: "list"; vals: Val[] } | { kind: "range"; range: RangeSpec; at: Where };

/**
 * The values of one enumerated axis, in order. Listed values are held (they were written out in
 * the file or on the command line); ranges stay arithmetic and are never expanded, so an axis of
 * any length costs a few bytes and `-p x=1..200000000` streams in constant memory.
 */
export class AxisValues implements Iterable<Val> {
  private readonly segments: Segment[] = [];
  length = 0;

  push(v: Val): void {
    const last = this.segments[this.segments.length - 1];
    if (last?.kind === "list") last.vals.push(v);
    else this.segments.push({ kind: "list", vals: [v] });
    this.length++;
  }

  pushRange(range: RangeSpec, at: Where): void {
    this.segments.push({ kind: "range", range, at });
    this.length += range.count;
  }

  /** The i-th value (0 <= i < length); a range's value is made on demand. */
  at(i: number): Val {
    for (const s of this.segments) {
      const n = s.kind === "list" ? s.vals.length : s.range.count;
      if (i < n) return s.kind === "list" ? s.vals[i]! : makeVal(rangeValue(s.range, i), s.at);
      i -= n;
    }
    throw new RangeError(`axis value ${i} out of range`);
  }

  *[Symbol.iterator](): Iterator<Val> {
    for (const s of this.segments) {
      if (s.kind === "list") yield* s.vals;
      else for (let i = 0; i < s.range.count; i++) yield makeVal(rangeValue(s.range, i), s.at);
    }
  }

  /** Every value's label for run names, without making the values ("" when it has none). */
  *labels(): Generator<string> {
    for (const s of this.segments) {
      if (s.kind === "list") for (const v of s.vals) yield v.label ?? "";
      else for (let i = 0; i < s.range.count; i++) yield formatNumber(rangeValue(s.range, i));
    }
  }

  /**
   * What the name proof asks of the labels, in one pass (an integer range by arithmetic alone, so
   * the proof costs nothing for `0..9999999`): any unsafe or empty label, any that cannot start a
   * name, any containing `sep`, the longest.
   */
  labelFacts(sep: string | undefined): LabelFacts {
    const facts = labelFacts([], sep);
    for (const s of this.segments) {
      const r = s.kind === "range" ? s.range : undefined;
      let part: LabelFacts;
      if (r && Number.isInteger(r.a) && Number.isInteger(r.step) && Math.abs(r.a) + r.step * r.count < 1e15) {
        const ends = [String(r.a), String(r.a + (r.count - 1) * r.step)];
        part = { unsafe: false, empty: false, badFirst: r.a < 0, hasSep: sep !== undefined && (/\d/.test(sep) || (sep === "-" && r.a < 0)), maxLength: Math.max(ends[0]!.length, ends[1]!.length) };
      } else if (r) {
        part = labelFacts(
          (function* () {
            for (let i = 0; i < r.count; i++) yield formatNumber(rangeValue(r, i));
          })(),
          sep,
        );
      } else part = labelFacts(s.kind === "list" ? s.vals.map((v) => v.label ?? "") : [], sep);
      facts.unsafe ||= part.unsafe;
      facts.empty ||= part.empty;
      facts.badFirst ||= part.badFirst;
      facts.hasSep ||= part.hasSep;
      facts.maxLength = Math.max(facts.maxLength, part.maxLength);
    }
    return facts;
  }

  /** The values written out (not computed from a range). Range values always have a label. */
  get listed(): Val[] {
    return this.segments.flatMap((s) => (s.kind === "list" ? s.vals : []));
  }

  get ranges(): { range: RangeSpec; at: Where }[] {
    return this.segments.flatMap((s) => (s.kind === "range" ? [{ range: s.range, at: s.at }] : []));
  }

  /** True when the axis holds only numbers (so distinct values have distinct labels). */
  get numeric(): boolean {
    return this.listed.every((v) => typeof v.value === "number");
  }
}

export interface LabelFacts {
  unsafe: boolean;
  empty: boolean;
  badFirst: boolean;
  hasSep: boolean;
  maxLength: number;
}

const FIRST_CHAR = /^[A-Za-z0-9_]/;

/** One pass over labels: what the name proof asks of them (see AxisValues.labelFacts). */
export function labelFacts(labels: Iterable<string>, sep: string | undefined): LabelFacts {
  const f: LabelFacts = { unsafe: false, empty: false, badFirst: false, hasSep: false, maxLength: 0 };
  for (const l of labels) {
    if (l === "") f.empty = true;
    else if (!NAME_CHARS.test(l)) f.unsafe = true;
    if (!FIRST_CHAR.test(l)) f.badFirst = true;
    if (sep !== undefined && l.includes(sep)) f.hasSep = true;
    if (l.length > f.maxLength) f.maxLength = l.length;
  }
  f.unsafe ||= f.empty;
  return f;
}

/** Rounding to 12 significant digits can merge values of a range whose step is that small. */
function provablyDistinct(r: RangeSpec): boolean {
  if (r.count <= 1) return true;
  const top = Math.max(Math.abs(r.a), Math.abs(r.a + (r.count - 1) * r.step));
  if (top === 0) return true;
  // Each rounded value is within half a unit of the 12th digit (at the largest magnitude) of the
  // exact one, so neighbours a step apart stay apart when the step is larger than that unit.
  return r.step > 10 ** (Math.floor(Math.log10(top)) - 11);
}

/** Position k with rangeValue(r, k) === x, if any (no enumeration). */
function indexIn(r: RangeSpec, x: number): number | undefined {
  const k = Math.round((x - r.a) / r.step);
  for (const j of [k - 1, k, k + 1]) if (j >= 0 && j < r.count && rangeValue(r, j) === x) return j;
  return undefined;
}

/**
 * The first value that appears twice in an axis, with where it is; undefined when all differ.
 * Listed values are compared through a map; ranges by arithmetic (a range against a listed value,
 * a range against the overlap of another), so a long range is never expanded into memory.
 */
export function firstDuplicate(axis: AxisValues): { value: Val; first?: Val } | undefined {
  const seen = new Map<string, Val>();
  for (const v of axis.listed) {
    const key = JSON.stringify(v.value);
    const first = seen.get(key);
    if (first) return { value: v, first };
    seen.set(key, v);
  }
  const ranges = axis.ranges;
  for (const [n, { range: r, at }] of ranges.entries()) {
    if (!provablyDistinct(r)) {
      let prev = rangeValue(r, 0);
      for (let i = 1; i < r.count; i++) {
        const x = rangeValue(r, i);
        if (x === prev) return { value: makeVal(x, at) };
        prev = x;
      }
    }
    for (const v of axis.listed) if (typeof v.value === "number" && indexIn(r, v.value) !== undefined) return { value: v };
    for (const { range: o } of ranges.slice(n + 1)) {
      const lo = Math.max(r.a, o.a);
      const hi = Math.min(rangeValue(r, r.count - 1), rangeValue(o, o.count - 1));
      if (lo > hi) continue;
      // Walk r's values inside the overlap only (disjoint ranges cost nothing).
      for (let i = Math.max(0, Math.floor((lo - r.a) / r.step) - 1); i < r.count; i++) {
        const x = rangeValue(r, i);
        if (x > hi) break;
        if (x >= lo && indexIn(o, x) !== undefined) return { value: makeVal(x, at) };
      }
    }
  }
  return undefined;
}
