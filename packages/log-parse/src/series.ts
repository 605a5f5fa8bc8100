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

const CAPACITY = 4096;
const MAX_PINNED = 64;

/** Finite values carry no `raw` (it is only kept to show a non-finite spelling). */
function point(step: number, value: number, raw: string, seq: number): Point {
  return Number.isFinite(value) ? { step, value, seq } : { step, value, raw, seq };
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
  private sample: Point[] = [];
  private stride = 1;
  private pinned: Point[] = [];
  /** File of the last value (a redraw replaces the last point only within one file). */
  private lastFile: string | undefined;
  /** `last` is also referenced as first, min, in the subsample or pinned: never overwrite it. */
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
    // A point is allocated only when something keeps it besides `last` (first, min, the
    // subsample, a non-finite value); otherwise an unshared `last` is overwritten in place, so
    // a long run of progress-bar updates allocates almost nothing.
    const finite = Number.isFinite(value);
    if (explicit && last && last.step === step && this.lastFile === file) {
      const replaced = this.sample.length > 0 && this.sample[this.sample.length - 1] === last;
      const wasFirst = this.first === last;
      const keep = replaced || wasFirst || !finite || !this.min || value < this.min.value;
      const p = keep ? point(step, value, raw, last.seq) : this.reuse(step, value, last.seq);
      if (replaced) this.sample[this.sample.length - 1] = p;
      if (wasFirst) this.first = p;
      this.last = p;
      this.lastShared = keep;
      this.note(p, file, line, text);
      return;
    }
    const s = step ?? this.count;
    const seq = this.count;
    const sampled = seq % this.stride === 0;
    const keep = !this.first || sampled || !finite || !this.min || value < this.min.value;
    const p = keep ? point(s, value, raw, seq) : this.reuse(s, value, seq);
    this.count += 1;
    if (!this.first) this.first = p;
    this.last = p;
    this.lastShared = keep;
    this.lastFile = file;
    if (s > this.maxStep) this.maxStep = s;
    if (sampled) {
      this.sample.push(p);
      if (this.sample.length > CAPACITY) {
        this.sample = this.sample.filter((q) => (q.seq / this.stride) % 2 === 0);
        this.stride *= 2;
      }
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
        this.firstNonFiniteText = text;
      }
      if (this.pinned.length < MAX_PINNED) this.pinned.push(p);
    }
  }

  /** The retained subsample in order (for the trend verdict). */
  values(): number[] {
    return this.sample.map((p) => p.value);
  }

  /**
   * At most `max` points for plotting: evenly spaced over the subsample, always keeping the
   * first, last and minimum points and the non-finite ones (up to a few).
   */
  downsample(max: number): { step: number; value: number | null; raw?: string }[] {
    const keep = new Map<number, Point>();
    const add = (p: Point | undefined) => p && keep.set(p.seq, p);
    add(this.first);
    add(this.last);
    add(this.min);
    for (const p of this.pinned.slice(0, Math.max(0, Math.floor(max / 4)))) add(p);
    const room = Math.max(0, max - keep.size);
    const n = this.sample.length;
    if (n <= room) for (const p of this.sample) add(p);
    else if (room > 0) {
      for (let i = 0; i < room; i++) add(this.sample[Math.round((i * (n - 1)) / Math.max(1, room - 1))]);
    }
    return [...keep.values()]
      .sort((a, b) => a.seq - b.seq)
      .slice(0, Math.max(max, 3))
      .map((p) => (Number.isFinite(p.value) ? { step: p.step, value: p.value } : { step: p.step, value: null, raw: p.raw ?? String(p.value) }));
  }
}
