import { type FastUpdate, type KeyEntry, MAX_DIGITS, afterWord, digitsEnd, intOf, isDigit, keyEntry, keyHash, numberValue, readNumber, skipSpace } from "./bytes.ts";
import { STEP_KEYS } from "./metrics.ts";

const COLON = 58;
const BAR = 124;

/**
 * The readers of fastline.ts for the metric lines of HF Trainer, nanoGPT and Megatron-LM. Each
 * takes a segment after its rank prefixes, returns false (having changed nothing) unless the
 * segment is exactly its shape, and fills `out` as extractMetrics would: the same names, values
 * and step, in the same order. A key that holds a failure literal sets `out.hinted`.
 */

/** The pairs of the line being read, kept until its step is known (one for all readers: no object per line). */
class LinePairs {
  n = 0;
  loss = false;
  readonly keys: KeyEntry[] = [];
  readonly values: number[] = [];

  reset(): void {
    this.n = 0;
    this.loss = false;
  }

  /** False: the key ends the fast read (the general path starts a traceback or a chain there). */
  push(key: KeyEntry, value: number, out: FastUpdate): boolean {
    if (key.structural) return false;
    if (key.failureHint) out.hintKeys.push(key);
    this.loss ||= key.loss;
    this.keys[this.n] = key;
    this.values[this.n] = value;
    this.n += 1;
    return true;
  }

  /** stepFrom: the first whole number >= 0 of the highest-ranked step key. */
  step(): number | undefined {
    let bestRank = STEP_KEYS.length;
    let step: number | undefined;
    for (let k = 0; k < this.n; k++) {
      const rank = this.keys[k]!.stepRank;
      const v = this.values[k]!;
      if (rank < bestRank && Number.isInteger(v) && v >= 0) {
        bestRank = rank;
        step = v;
      }
    }
    return step;
  }

  /** The metrics into `out` at `step`, as emitPairs gives them; false when no key held `loss` (the general path decides). */
  emit(out: FastUpdate, step: number | undefined): boolean {
    if (!this.loss) return false;
    out.step = step;
    for (let k = 0; k < this.n; k++) if (this.keys[k]!.metric) out.add(this.keys[k]!.name, this.values[k]!);
    out.hinted = out.hintKeys.length > 0;
    return true;
  }
}
const pairs = new LinePairs();

/**
 * An HF Trainer dict (`{'loss': 2.33, 'grad_norm': 1.5, 'learning_rate': 5e-05, 'epoch': 0.1}`;
 * also 5.x's quoted numbers and fairseq's JSON), read as extractMetrics reads it (HF_PAIR from the
 * `{`, stepFrom, emitPairs): only when the segment is exactly `{`, then `'key': value` pairs
 * separated by `,` and `}`, with ASCII blanks around the separators (not before the first
 * quote); keys of 1-64 characters of
 * `[A-Za-z0-9_./ -]` (no quote, colon or comma: HF_PAIR then finds each pair once, in order),
 * values plain finite numbers, bare or quoted. Nothing but blanks after the `}`.
 */
export function readDict(s: Uint8Array, latin1: string, a: number, b: number, out: FastUpdate): boolean {
  let i = a + 1;
  pairs.reset();
  for (;;) {
    // The first key's quote right after the `{` (extractMetrics looks for `{'` or `{"`)
    if (pairs.n > 0) i = skipSpace(s, i, b);
    if (i < 0 || i >= b) return false;
    const q = s[i]!;
    if (q !== 39 && q !== 34) return false;
    const ks = i + 1;
    let ke = ks;
    let hash = 0; // keyHash, computed on the way
    for (; ke < b; ke++) {
      const c = s[ke]!;
      if (c === 39 || c === 34) break;
      if (!((c >= 48 && c <= 57) || ((c | 32) >= 97 && (c | 32) <= 122) || c === 95 || c === 46 || c === 47 || c === 45 || c === 32)) return false;
      hash = (Math.imul(hash, 31) + c) | 0;
    }
    if (ke >= b || ke === ks || ke - ks > 64) return false;
    i = skipSpace(s, ke + 1, b);
    if (i < 0 || i >= b || s[i] !== COLON) return false;
    i = skipSpace(s, i + 1, b);
    if (i < 0 || i >= b) return false;
    if (s[i] === 39 || s[i] === 34) i++;
    i = readNumber(s, latin1, i, b);
    if (i < 0) return false;
    const value = numberValue;
    if (i < b && (s[i] === 39 || s[i] === 34)) i++;
    i = skipSpace(s, i, b);
    if (i < 0 || i >= b) return false;
    if (!pairs.push(keyEntry(s, ks, ke, hash), value, out)) return false;
    if (s[i] === 44) {
      i += 1;
      continue;
    }
    if (s[i] !== 125) return false;
    const end = skipSpace(s, i + 1, b);
    if (end !== b) return false;
    break;
  }
  // extractMetrics reads a dict only when the line holds `loss` (or `_runtime`, left to it)
  return pairs.emit(out, pairs.step());
}

const ITER = "iter ";
const LOSS = ": loss ";
const TIME = ", time ";
const MFU = ", mfu ";

/**
 * nanoGPT's `iter 120: loss 2.3289, time 118.35ms, mfu 12.43%` (the time and mfu parts optional),
 * read as NANOGPT_ITER reads it: loss, and mfu when >= 0 (-100% is "not yet measured"); the line
 * must end after its last part. The step has at most 15 digits.
 */
export function readIter(s: Uint8Array, latin1: string, a: number, b: number, out: FastUpdate): boolean {
  let i = afterWord(s, a, b, ITER);
  if (i < 0) return false;
  const d = digitsEnd(s, i, b);
  if (d === i || d - i > MAX_DIGITS) return false;
  const step = intOf(s, i, d);
  i = afterWord(s, d, b, LOSS);
  if (i < 0) return false;
  i = readNumber(s, latin1, i, b);
  if (i < 0) return false;
  const loss = numberValue;
  let mfu = -1;
  const t = afterWord(s, i, b, TIME);
  if (t >= 0) {
    i = readNumber(s, latin1, t, b);
    if (i < 0 || i + 2 > b || s[i] !== 109 || s[i + 1] !== 115) return false; // ms
    i += 2;
  }
  const m = afterWord(s, i, b, MFU);
  if (m >= 0) {
    i = readNumber(s, latin1, m, b);
    if (i < 0 || i >= b || s[i] !== 37) return false; // %
    mfu = numberValue;
    i += 1;
  }
  if (i !== b) return false;
  out.step = step;
  out.add("loss", loss);
  if (mfu >= 0) out.add("mfu", mfu);
  return true;
}


/**
 * A Megatron-LM iteration line (` [2024-04-06 03:02:12] iteration      120/  250000 | consumed
 * samples: 15360 | ... | lm loss: 2.330000E+00 | loss scale: 1.0 | grad norm: 0.123 | number of
 * nan iterations:   0 |`), read as MEGATRON and MEGATRON_PAIR read it: an optional `[date time]`,
 * `iteration N/M |`, then `key: number |` fields to the end of the line. Keys are letters, blanks
 * and `()_-/.` (no digit: none of the earlier formats of extractMetrics can then match), 1-64
 * characters without the blanks around them. Its failure literals (`loss scale`, `nan
 * iterations`) are in keys, so the failure checks still run on such a line (`out.hinted`).
 */
export function readMegatron(s: Uint8Array, latin1: string, a: number, b: number, out: FastUpdate): boolean {
  let i = skipSpace(s, a, b);
  if (i < 0) return false;
  if (i < b && s[i] === 91) {
    let j = i + 1;
    while (j < b && (isDigit(s[j]!) || s[j] === 32 || s[j] === COLON || s[j] === 45)) j++;
    if (j === i + 1 || j >= b || s[j] !== 93) return false;
    i = skipSpace(s, j + 1, b);
    if (i < 0) return false;
  }
  i = afterWord(s, i, b, "iteration");
  if (i < 0) return false;
  const d0 = skipSpace(s, i, b);
  if (d0 <= i) return false;
  const d1 = digitsEnd(s, d0, b);
  if (d1 === d0 || d1 - d0 > MAX_DIGITS || d1 >= b || s[d1] !== 47) return false;
  const step = intOf(s, d0, d1);
  i = skipSpace(s, d1 + 1, b);
  if (i < 0) return false;
  const t1 = digitsEnd(s, i, b);
  if (t1 === i) return false;
  i = skipSpace(s, t1, b);
  if (i < 0 || i >= b || s[i] !== BAR) return false;
  pairs.reset();
  for (;;) {
    // at a `|`: the end of the line, or a `key: number |` field
    const ks = skipSpace(s, i + 1, b);
    if (ks < 0) return false;
    if (ks === b) break;
    let ke = ks;
    for (; ke < b; ke++) {
      const c = s[ke]!;
      if (c === COLON) break;
      if (!(((c | 32) >= 97 && (c | 32) <= 122) || c === 32 || c === 40 || c === 41 || c === 95 || c === 45 || c === 47 || c === 46)) return false;
    }
    if (ke >= b) return false;
    const colon = ke;
    while (ke > ks && s[ke - 1] === 32) ke--;
    if (ke === ks || ke - ks > 64) return false;
    i = skipSpace(s, colon + 1, b);
    if (i < 0) return false;
    i = readNumber(s, latin1, i, b);
    if (i < 0) return false;
    const value = numberValue;
    i = skipSpace(s, i, b);
    if (i < 0 || i >= b || s[i] !== BAR) return false;
    if (!pairs.push(keyEntry(s, ks, ke, keyHash(s, ks, ke)), value, out)) return false;
  }
  return pairs.emit(out, step);
}
