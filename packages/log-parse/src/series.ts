/**
 * One metric's values in bounded memory, however long the run: exact first/last/min/count and
 * first non-finite value, plus a uniform subsample (every value until `capacity`, then every
 * 2nd, 4th, ... by halving) that the trend verdict and the plotted series are computed from.
 * Non-finite points are pinned so a NaN is never decimated away.
 */
export interface Point {
  step: number;
  value: number; // NaN / ±Infinity kept as such here; JSON output encodes them as null + raw
  raw?: string;
  seq: number;
}

export interface Where {
  file: string;
  line: number;
  /** The line's text, kept only for the first non-finite value (evidence). */
  text?: string;
}

export interface NonFinite {
  step?: number;
  raw: string;
  file: string;
  line: number;
}

const CAPACITY = 1024;
const MAX_PINNED = 64;
/** Kept of the line of the first non-finite value: more than the evidence shows (400). */
const MAX_TEXT = 4096;

/** Finite values carry no `raw` (it is only kept to show a non-finite spelling). */
function point(step: number, value: number, raw: string, seq: number): Point {
  return Number.isFinite(value) ? { step, value, seq } : { step, value, raw, seq };
}

/**
 * Growable parallel arrays of (step, value): the subsample costs no object per point. Entry i is
 * the value numbered `i * stride` (its seq): every stride-th value is kept, and halving keeps the
 * even entries and doubles the stride, so the sequence numbers need no array of their own (one
 * typed array less per metric to keep, scan and restore with --state).
 */
class Sample {
  length = 0;
  stride = 1;
  step = new Float64Array(64);
  value = new Float64Array(64);
  /** The raw spelling of the non-finite values in the sample, by seq. */
  readonly raw = new Map<number, string>();

  push(p: Point): void {
    if (this.length === this.step.length) {
      const grow = (a: Float64Array) => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.step = grow(this.step);
      this.value = grow(this.value);
    }
    this.set(this.length++, p);
  }

  /** Entry i holds `p`, whose seq is `i * stride` (the caller's invariant). */
  set(i: number, p: Point): void {
    this.step[i] = p.step;
    this.value[i] = p.value;
    if (p.raw !== undefined) this.raw.set(p.seq, p.raw);
    else this.raw.delete(p.seq);
  }

  seqAt(i: number): number {
    return i * this.stride;
  }

  at(i: number): Point {
    const seq = this.seqAt(i);
    const raw = this.raw.get(seq);
    return raw === undefined ? { step: this.step[i]!, value: this.value[i]!, seq } : { step: this.step[i]!, value: this.value[i]!, raw, seq };
  }

  /** Keeps the entries whose seq is an even multiple of the stride (the even entries, in place), and doubles the stride. */
  halve(): void {
    let j = 0;
    for (let i = 0; i < this.length; i++) {
      if (i % 2 === 0) {
        this.step[j] = this.step[i]!;
        this.value[j] = this.value[i]!;
        j += 1;
      } else this.raw.delete(this.seqAt(i));
    }
    this.stride *= 2;
    // Unused entries are zeros: a --state snapshot keeps a typed array only up to its last non-zero byte.
    for (const a of [this.step, this.value]) a.fill(0, j, this.length);
    this.length = j;
    // Halved, the sample never again holds more than CAPACITY + 1 entries (it is halved as soon as
    // it does): the doubled capacity would only be zeros to keep, scan past and restore (--state).
    if (this.step.length > CAPACITY + 1) {
      this.step = this.step.slice(0, CAPACITY + 1);
      this.value = this.value.slice(0, CAPACITY + 1);
    }
  }
}

export class Series {
  count = 0;
  first: Point | undefined;
  last: Point | undefined;
  min: Point | undefined;
  maxStep = Number.NEGATIVE_INFINITY;
  /** True when the format printed step numbers (else steps are the running count). */
  explicitSteps = false;
  firstNonFinite: NonFinite | undefined;
  firstNonFiniteText: string | undefined;
  nonFiniteCount = 0;
  private readonly sample = new Sample();
  private pinned: Point[] = [];
  /** File of the last value (a redraw replaces the last point only within one file). */
  private lastFile: string | undefined;
  /** `last` is also referenced as first, min or pinned: never overwrite it. */
  private lastShared = true;

  constructor(readonly name: string) {}

  /**
   * Adds a value. A value for the same step as the previous one replaces it: a `\r` progress bar
   * redrawn for the same step, or every rank printing the same line, is one point.
   */
  add(step: number | undefined, value: number, raw: string, where: Where): void {
    this.addAt(step, value, raw, where.file, where.line, where.text);
  }

  /**
   * `add` without a `Where` object per value (the hot path: one call per progress-bar update).
   * `raw` and `text` are only read for a non-finite value.
   */
  addAt(step: number | undefined, value: number, raw: string, file: string, line: number, text?: string): void {
    const explicit = step !== undefined;
    if (explicit) this.explicitSteps = true;
    const last = this.last;
    const sample = this.sample;
    // A point object is allocated only when something keeps it besides `last` (first, min, a
    // non-finite value); otherwise an unshared `last` is overwritten in place, and the subsample
    // holds numbers, so a long run of updates allocates almost nothing (and promotes nothing).
    const finite = Number.isFinite(value);
    if (explicit && last && last.step === step && this.lastFile === file) {
      const replaced = sample.length > 0 && sample.seqAt(sample.length - 1) === last.seq;
      const wasFirst = this.first === last;
      const keep = wasFirst || !finite || !this.min || value < this.min.value;
      const p = keep ? point(step, value, raw, last.seq) : this.reuse(step, value, last.seq);
      if (replaced) sample.set(sample.length - 1, p);
      if (wasFirst) this.first = p;
      this.last = p;
      this.lastShared = keep;
      this.note(p, file, line, text);
      return;
    }
    const s = step ?? this.count;
    const seq = this.count;
    const keep = !this.first || !finite || !this.min || value < this.min.value;
    const p = keep ? point(s, value, raw, seq) : this.reuse(s, value, seq);
    this.count += 1;
    if (!this.first) this.first = p;
    this.last = p;
    this.lastShared = keep;
    this.lastFile = file;
    if (s > this.maxStep) this.maxStep = s;
    if (seq % sample.stride === 0) {
      sample.push(p);
      if (sample.length > CAPACITY) sample.halve();
    }
    this.note(p, file, line, text);
  }

  /** A finite point that only `last` will reference: the current `last` when nothing else does. */
  private reuse(step: number, value: number, seq: number): Point {
    const p = this.last;
    if (!p || this.lastShared) return { step, value, seq };
    p.step = step;
    p.value = value;
    p.seq = seq;
    return p;
  }

  private note(p: Point, file: string, line: number, text: string | undefined): void {
    if (Number.isFinite(p.value)) {
      if (!this.min || p.value < this.min.value) this.min = p;
    } else {
      this.nonFiniteCount += 1;
      if (!this.firstNonFinite) {
        this.firstNonFinite = { step: p.step, raw: p.raw ?? String(p.value), file, line };
        // Only the evidence (400 chars of the trimmed text) is ever shown: a 1 MiB line is not kept.
        this.firstNonFiniteText = text !== undefined && text.length > MAX_TEXT ? text.trimStart().slice(0, MAX_TEXT) : text;
      }
      if (this.pinned.length < MAX_PINNED) this.pinned.push(p);
    }
  }

  /** The retained subsample in order (for the trend verdict). */
  values(): Float64Array {
    // A view, not a copy (Array.from of ~1,000 values per record was 1-2 % of a cron tick): read it before the next add.
    return this.sample.value.subarray(0, this.sample.length);
  }

  /**
   * At most `max` points for plotting: evenly spaced over the subsample, always keeping the
   * first, last and minimum points and the non-finite ones (up to a few).
   */
  downsample(max: number): { step: number; value: number | null; raw?: string }[] {
    // The kept points besides the subsample, in seq order, one per seq: the later of first, last,
    // min, pinned wins (a redraw can leave `min` holding the same seq as `last` with the older value).
    const extra: Point[] = [];
    for (const p of [this.first, this.last, this.min, ...this.pinned.slice(0, Math.max(0, Math.floor(max / 4)))]) {
      if (!p) continue;
      const same = extra.findIndex((q) => q.seq === p.seq);
      if (same >= 0) extra[same] = p;
      else extra.push(p);
    }
    extra.sort((a, b) => a.seq - b.seq);
    const room = Math.max(0, max - extra.length);
    const sample = this.sample;
    const n = sample.length;
    // Subsample indices: all, or `room` evenly spaced (strictly increasing when n > room).
    const picks = Math.min(n, room);
    const spread = n > room; // then `room` evenly spaced indices (strictly increasing), else all
    const span = Math.max(1, room - 1);
    // Merged by seq (the subsample's entry wins over an extra point of the same seq), no Map or sort.
    const out: { step: number; value: number | null; raw?: string }[] = [];
    const limit = Math.max(max, 3);
    const emit = (step: number, value: number, raw: string | undefined) => {
      out.push(Number.isFinite(value) ? { step, value } : { step, value: null, raw: raw ?? String(value) });
    };
    // The hot loop (500 points per metric and record, each cron tick): no call per finite point.
    const { step: steps, value: values, stride } = sample;
    let e = 0;
    let nextExtra = extra.length > 0 ? extra[0]!.seq : Number.POSITIVE_INFINITY;
    for (let k = 0; k < picks && out.length < limit; k++) {
      const i = spread ? Math.round((k * (n - 1)) / span) : k;
      const seq = i * stride;
      if (nextExtra <= seq) {
        while (e < extra.length && extra[e]!.seq < seq && out.length < limit) {
          const p = extra[e++]!;
          emit(p.step, p.value, p.raw);
        }
        if (e < extra.length && extra[e]!.seq === seq) e += 1;
        nextExtra = e < extra.length ? extra[e]!.seq : Number.POSITIVE_INFINITY;
        if (out.length >= limit) break;
      }
      const value = values[i]!;
      if (Number.isFinite(value)) out.push({ step: steps[i]!, value });
      else emit(steps[i]!, value, sample.raw.get(seq));
    }
    while (e < extra.length && out.length < limit) {
      const p = extra[e++]!;
      emit(p.step, p.value, p.raw);
    }
    return out;
  }
}
