import { ANCHORS, FAILURE_HINT } from "./anchors.ts";
import { DEATH_HINT } from "./exits.ts";
import { NOT_METRICS, STEP_KEYS, metricName } from "./metrics.ts";

/**
 * Byte-level helpers of the raw-byte fast paths (fastbar.ts, fastline.ts): they read the common
 * metric lines straight from the scanner's buffer, without decoding, cleaning or regexes. Each
 * reader accepts only what it reads exactly as the general path would (see their comments) and
 * gives up otherwise, so the general path stays the one definition of what a line means.
 */

export const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));
/** Digits of a mantissa that a double holds exactly (< 2^53): `M * 10^k` is then correctly rounded. */
export const MAX_DIGITS = 15;
/** NUMBER_SOURCE's bounds (numbers.ts): longer runs are no number there. */
const MAX_NUMBER_DIGITS = 64;
const MAX_EXPONENT_DIGITS = 4;

export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Past an ASCII `\s*`; -1 at a non-ASCII byte (the UTF-8 text might have a Unicode space there). */
export function skipSpace(s: Uint8Array, i: number, b: number): number {
  for (; i < b; i++) {
    const c = s[i]!;
    if (c === 32 || (c >= 9 && c <= 13)) continue;
    return c < 128 ? i : -1;
  }
  return i;
}

/** End of a run of digits starting at `i` (no digits: `i`). */
export function digitsEnd(s: Uint8Array, i: number, b: number): number {
  while (i < b && isDigit(s[i]!)) i++;
  return i;
}

/** Past the ASCII `word` at `i`, or -1 when it is not there. */
export function afterWord(s: Uint8Array, i: number, b: number, word: string): number {
  if (i + word.length > b) return -1;
  for (let k = 0; k < word.length; k++) if (s[i + k] !== word.charCodeAt(k)) return -1;
  return i + word.length;
}

/** The integer value of the digits `[i, j)`, at most MAX_DIGITS of them (checked by the caller). */
export function intOf(s: Uint8Array, i: number, j: number): number {
  let v = 0;
  for (; i < j; i++) v = v * 10 + (s[i]! - 48);
  return v;
}

/** The value of the last number `readNumber` read (a module variable: no object per number). */
export let numberValue = 0;

/**
 * Reads a finite number of NUMBER_SOURCE's grammar at `i` (`[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d{1,4})?`,
 * not followed by a digit, `.` or an exponent) and returns where it ends, its value in
 * `numberValue`; -1 when there is none there (a non-finite spelling or value, a longer run of
 * digits, ...).
 * The value is `Number()` of the token: computed as `M * 10^k` when both are exact (Clinger's
 * fast path, a correctly rounded single operation), else by `Number()` of the token's text.
 */
export function readNumber(s: Uint8Array, latin1: string, i: number, b: number): number {
  const start = i;
  let c = i < b ? s[i]! : 0;
  const neg = c === 45;
  if (c === 45 || c === 43) c = ++i < b ? s[i]! : 0;
  const i0 = i;
  i = digitsEnd(s, i, b);
  const intDigits = i - i0;
  let fracDigits = 0;
  let f0 = i;
  if (i < b && s[i]! === 46) {
    f0 = i + 1;
    i = digitsEnd(s, f0, b);
    fracDigits = i - f0;
  }
  if (intDigits + fracDigits === 0 || intDigits > MAX_NUMBER_DIGITS || fracDigits > MAX_NUMBER_DIGITS) return -1;
  let exp = 0;
  if (i < b && (s[i]! | 32) === 101) {
    let e = i + 1;
    let eneg = false;
    if (e < b && (s[e]! === 45 || s[e]! === 43)) eneg = s[e++]! === 45;
    const e1 = digitsEnd(s, e, b);
    if (e1 > e) {
      if (e1 - e > MAX_EXPONENT_DIGITS) return -1;
      exp = intOf(s, e, e1);
      if (eneg) exp = -exp;
      i = e1;
    }
    // `e` not followed by a digit: the number ends before it (the caller looks at what follows)
  }
  if (i < b && (isDigit(s[i]!) || s[i]! === 46)) return -1;
  const scale = exp - fracDigits;
  if (intDigits + fracDigits <= MAX_DIGITS && scale >= -22 && scale <= 22) {
    const m = intOf(s, i0, i0 + intDigits) * POW10[fracDigits]! + intOf(s, f0, f0 + fracDigits);
    const v = scale >= 0 ? m * POW10[scale]! : m / POW10[-scale]!;
    numberValue = neg ? -v : v;
  } else {
    numberValue = Number(latin1.slice(start, i));
    // `1e400` is Infinity: a non-finite value keeps its spelling and its line, the general path's
    if (!Number.isFinite(numberValue)) return -1;
  }
  return i;
}

export interface KeyEntry {
  key: string;
  /** The metric name (metricName of the key). */
  name: string;
  /** False for an axis or bookkeeping key (v_num, epoch, step, ...): not a metric. */
  metric: boolean;
  /** Its rank among STEP_KEYS (lower wins), or STEP_KEYS.length when it is none. */
  stepRank: number;
  /** The key holds a literal of FAILURE_HINT (`loss scale`, `nan iterations`): its line gets the failure checks too. */
  failureHint: boolean;
  /** The key holds what starts a traceback or marks a chain or frame: the general path reads no metric there. */
  structural: boolean;
  /** The key holds `loss` (what the general path looks for before it reads a dict). */
  loss: boolean;
  /** The key holds what METRIC_HINT looks for (`loss`, `Loss`, `LOSS`). */
  lossHint: boolean;
  /** ANCHORS whose quick literal the key holds (1: it does), and whether it holds a DEATH_HINT literal. */
  anchors: Uint8Array;
  death: boolean;
}

/** What FileSink.segment looks for before the metrics (a traceback start, a chain marker, a frame). */
const STRUCTURAL = /Traceback \(most recent call last\)|above exception|File "/;

function anchorsIn(key: string): Uint8Array {
  return Uint8Array.from(ANCHORS, (a) => (key.includes(a.quick) ? 1 : 0));
}

/** Keys seen, by a hash of their bytes: the same few keys repeat on every line, so no slice per key. */
const KEYS = new Map<number, KeyEntry>();

/** The hash `keyEntry` is looked up by, of the key bytes `[ks, ke)`. */
export function keyHash(s: Uint8Array, ks: number, ke: number): number {
  let hash = 0;
  for (let i = ks; i < ke; i++) hash = (Math.imul(hash, 31) + s[i]!) | 0;
  return hash;
}

/** The entry of the ASCII key `[ks, ke)` whose keyHash is `hash`. */
export function keyEntry(s: Uint8Array, ks: number, ke: number, hash: number): KeyEntry {
  const e = KEYS.get(hash);
  if (e !== undefined && sameKey(e.key, s, ks, ke)) return e;
  const key = String.fromCharCode(...s.subarray(ks, ke));
  const name = metricName(key);
  const rank = STEP_KEYS.indexOf(name);
  const entry = { key, name, metric: !NOT_METRICS.has(name), stepRank: rank < 0 ? STEP_KEYS.length : rank, failureHint: FAILURE_HINT.test(key), structural: STRUCTURAL.test(key), loss: key.includes("loss"), lossHint: /[lL]oss|LOSS/.test(key), anchors: anchorsIn(key), death: DEATH_HINT.test(key) };
  if (e === undefined && KEYS.size < 10_000) KEYS.set(hash, entry);
  return entry;
}

function sameKey(key: string, s: Uint8Array, ks: number, ke: number): boolean {
  if (key.length !== ke - ks) return false;
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) !== s[ks + i]) return false;
  return true;
}

/** What a fast reader found: the metrics of one line, at one step. */
export class FastUpdate {
  step: number | undefined = undefined;
  count = 0;
  /** A key held a FAILURE_HINT literal: the line's text also goes through the failure checks. */
  hinted = false;
  /** The keys that did (the failure checks need only look for what they hold). */
  readonly hintKeys: KeyEntry[] = [];
  /** A key held what METRIC_HINT looks for (a bar's postfix). */
  lossHint = false;
  /** The line is ASCII (dict, iter and Megatron readers accept no other byte). */
  ascii = false;
  readonly names: string[] = [];
  readonly values: number[] = [];

  add(name: string, value: number): void {
    this.names[this.count] = name;
    this.values[this.count] = value;
    this.count += 1;
  }
}
