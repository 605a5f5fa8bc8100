import { FAILURE_HINT } from "./anchors.ts";
import { FastUpdate, type KeyEntry, MAX_DIGITS, digitsEnd, intOf, keyEntry, keyHash, numberValue, readNumber, skipSpace } from "./bytes.ts";
import { STEP_KEYS } from "./metrics.ts";
import { readBar } from "./fastbar.ts";

/**
 * The raw-byte fast paths: the lines that are most of a training log's bytes (Lightning bar
 * updates, HF Trainer dicts, nanoGPT iter lines) read without decoding, cleaning or regexes, when
 * the general path (FileSink.segment) provably does nothing else with them than emit their metrics:
 * - no user patterns and no open traceback (checked by the caller);
 * - rank prefixes skipped exactly as cleanSegment strips them (`0: `, `[rank3]: `, `[default1]:`);
 * - the line is exactly one reader's shape (else it gives up, having changed nothing) and gives
 *   at least one finite metric (a line without one goes on to the warning and GPU checks);
 * - nothing in it the general path would also act on: no literal of FAILURE_HINT, of a traceback
 *   start, a chain marker or a frame, no escape code or backspace (cleaning would change the
 *   text). A bar's postfix and glyphs may hold any text, so a bar is searched for all of them
 *   (FAST_EXIT, on the raw bytes: every literal is ASCII and unanchored, so a match in the cleaned
 *   UTF-8 text is a match in the raw bytes). A dict or iter line is made of the reader's bytes
 *   only: no control byte, no `(` of a traceback start, a start (`{`, `i`) that the anchored
 *   chain-marker and frame patterns cannot match, and words only in a dict's keys (a literal
 *   cannot span a key and its quote: none ends in a quote but `File "`, which FRAME_HEAD anchors
 *   at the line start), so only the keys are tested, once per distinct key (KeyEntry.failureHint).
 * test/fastpath.test.ts compares both paths on near misses and on random mutations of each shape.
 */
const FAST_EXIT = new RegExp(
  sortedAlternatives([...FAILURE_HINT.source.split("|"), "Traceback \\(most recent call last\\)", "above exception", 'File "']),
  "g",
);
/** An HF dict literal: the general path tries it before a bar (metrics.ts extractMetrics). */
const DICT_START = /\{['"]/g;
/** METRIC_HINT over raw bytes, less its `Epoch N/M` alternative (a bar has `:` after the epoch). */
const BAR_HINT = /[lL]oss|LOSS|\] step=\d+, skipped=/g;

/**
 * The alternatives sorted: the same literals match at the same places (only the position of the
 * first match is used), but V8 scans a sorted alternation about 30% faster. Unsorted when a piece
 * is not a regex of its own (the source was not split at top-level bars).
 */
function sortedAlternatives(pieces: string[]): string {
  const whole = pieces.every((p) => {
    try {
      new RegExp(p);
      return true;
    } catch {
      return false;
    }
  });
  return (whole ? [...pieces].sort() : pieces).join("|");
}

function nextMatch(re: RegExp, s: string, from: number): number {
  re.lastIndex = from;
  const m = re.exec(s);
  return m ? m.index : Number.POSITIVE_INFINITY;
}

function nextIndex(s: string, what: string, from: number): number {
  const i = s.indexOf(what, from);
  return i < 0 ? Number.POSITIVE_INFINITY : i;
}

const E = 69; // Epoch (a Lightning bar)
const BRACE = 123; // { (an HF dict)
const I = 105; // iter (nanoGPT)

/** Per-file gate state of the bars: the next match of each exit test in the current buffer (each buffer is searched once). */
export class FastPath {
  readonly out = new FastUpdate();
  private gated: Buffer | null = null;
  private nextExit = -1;
  private nextEsc = -1;
  private nextBs = -1;
  private nextDict = -1;
  private nextBarHint = -1;

  /** The metrics of segment `[a, b)` of `bytes` (`latin1`: the same bytes as a string), or false: take the general path. */
  read(bytes: Buffer, s: string, a: number, b: number): boolean {
    const t = skipRankPrefixes(bytes, a, b);
    const c = t < b ? bytes[t]! : 0;
    if (c === E) {
      // A bar: the gates over all of its bytes
      if (bytes !== this.gated) {
        this.gated = bytes;
        this.nextExit = this.nextEsc = this.nextBs = this.nextDict = this.nextBarHint = -1;
      }
      if (this.nextExit < a) this.nextExit = nextMatch(FAST_EXIT, s, a);
      if (this.nextExit < b) return false;
      if (this.nextEsc < a) this.nextEsc = nextIndex(s, "\x1b", a);
      if (this.nextEsc < b) return false;
      if (this.nextBs < a) this.nextBs = nextIndex(s, "\b", a);
      if (this.nextBs < b) return false;
    } else if (c !== BRACE && c !== I) return false;
    const out = this.out;
    out.count = 0;
    out.step = undefined;
    if (c === BRACE) {
      if (!readDict(bytes, s, t, b, out)) return false;
    } else if (c === I) {
      if (!readIter(bytes, s, t, b, out)) return false;
    } else {
      if (this.nextDict < a) this.nextDict = nextMatch(DICT_START, s, a);
      if (this.nextDict < b) return false;
      if (this.nextBarHint < a) this.nextBarHint = nextMatch(BAR_HINT, s, a);
      if (this.nextBarHint >= b) return false;
      if (!readBar(bytes, t, b, out)) return false;
    }
    return out.count > 0;
  }
}

const SPACE = 32;
const COLON = 58;

/**
 * Past the rank prefixes cleanSegment strips (RANK_PREFIX, at most 3), for the shapes launchers
 * print: `N: ` (srun --label, 1-5 digits), `[rankN]: ` and `[defaultN]: ` (the space optional).
 * Any other start is returned as it is: the readers then see no shape of theirs and give up.
 */
export function skipRankPrefixes(s: Uint8Array, a: number, b: number): number {
  let i = a;
  for (let k = 0; k < 3 && i < b; k++) {
    const c = s[i]!;
    let j: number;
    if (c >= 48 && c <= 57) {
      j = digitsEnd(s, i, b);
      if (j - i > 5 || j + 1 >= b || s[j] !== COLON || s[j + 1] !== SPACE) return i;
      i = j + 2;
    } else if (c === 91) {
      j = afterWord(s, i + 1, b, "rank");
      if (j < 0) j = afterWord(s, i + 1, b, "default");
      if (j < 0) return i;
      const d = digitsEnd(s, j, b);
      if (d === j || d + 1 >= b || s[d] !== 93 || s[d + 1] !== COLON) return i;
      i = d + 2 < b && s[d + 2] === SPACE ? d + 3 : d + 2;
    } else return i;
  }
  return i;
}

function afterWord(s: Uint8Array, i: number, b: number, word: string): number {
  if (i + word.length > b) return -1;
  for (let k = 0; k < word.length; k++) if (s[i + k] !== word.charCodeAt(k)) return -1;
  return i + word.length;
}

// Scratch of readDict: the pairs of the line before its step is known.
const dictKeys: KeyEntry[] = [];
const dictValues: number[] = [];

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
  let n = 0;
  let hasLoss = false;
  for (;;) {
    // The first key's quote right after the `{` (extractMetrics looks for `{'` or `{"`)
    if (n > 0) i = skipSpace(s, i, b);
    if (i < 0 || i >= b) return false;
    const q = s[i]!;
    if (q !== 39 && q !== 34) return false;
    const ks = i + 1;
    let ke = ks;
    for (; ke < b; ke++) {
      const c = s[ke]!;
      if (c === 39 || c === 34) break;
      if (!((c >= 48 && c <= 57) || ((c | 32) >= 97 && (c | 32) <= 122) || c === 95 || c === 46 || c === 47 || c === 45 || c === 32)) return false;
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
    const key = keyEntry(s, ks, ke, keyHash(s, ks, ke));
    if (key.failureHint) return false;
    hasLoss ||= key.loss;
    dictKeys[n] = key;
    dictValues[n] = value;
    n += 1;
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
  if (!hasLoss) return false;
  // stepFrom: the first whole number >= 0 of the highest-ranked step key.
  let bestRank = STEP_KEYS.length;
  for (let k = 0; k < n; k++) {
    const rank = dictKeys[k]!.stepRank;
    const v = dictValues[k]!;
    if (rank < bestRank && Number.isInteger(v) && v >= 0) {
      bestRank = rank;
      out.step = v;
    }
  }
  for (let k = 0; k < n; k++) if (dictKeys[k]!.metric) out.add(dictKeys[k]!.name, dictValues[k]!);
  return true;
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
