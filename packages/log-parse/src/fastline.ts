import { FAILURE_HINT } from "./anchors.ts";
import { FastUpdate, afterWord, digitsEnd } from "./bytes.ts";
import { readDict, readIter, readMegatron } from "./fastdict.ts";
import { readBar } from "./fastbar.ts";

/**
 * The raw-byte fast paths: the lines that are most of a training log's bytes (Lightning bar
 * updates, HF Trainer dicts, nanoGPT iter lines, Megatron iteration lines) read without decoding,
 * cleaning or regexes, when the general path (FileSink.segment) provably does nothing else with
 * them than emit their metrics (and, for `out.hinted`, the failure checks the caller then runs):
 * - no user patterns and no open traceback (checked by the caller);
 * - rank prefixes skipped exactly as cleanSegment strips them (`0: `, `[rank3]: `, `[default1]:`);
 * - the line is exactly one reader's shape (else it gives up, having changed nothing) and gives
 *   at least one finite metric (a line without one goes on to the warning and GPU checks);
 * - no escape code or backspace (cleaning would change the text), no traceback start, chain
 *   marker or frame. A bar's postfix and glyphs may hold any text, so a bar is searched for them
 *   and for every FAILURE_HINT literal (FAST_EXIT, on the raw bytes: every literal is ASCII and
 *   unanchored, so a match in the cleaned UTF-8 text is a match in the raw bytes). A dict,
 *   iter or Megatron line is made of its reader's bytes only: no control byte, a start the
 *   anchored chain-marker and frame patterns cannot match, and words only in the keys (no
 *   literal spans a key and the quote, colon or digits around it: only `File "` ends in a quote,
 *   and FRAME_HEAD anchors it at the line start). So only its keys are tested, once per distinct
 *   key (KeyEntry.structural: give up; KeyEntry.failureHint: the failure checks run).
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
const I = 105; // iter (nanoGPT), iteration (Megatron)

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
    } else if (c !== BRACE && c !== I && c !== SPACE && c !== 91) return false; // 91: [ (Megatron's date)
    const out = this.out;
    out.count = 0;
    out.step = undefined;
    out.hinted = false;
    if (out.hintKeys.length > 0) out.hintKeys.length = 0;
    if (c === BRACE) {
      if (!readDict(bytes, s, t, b, out)) return false;
    } else if (c === I) {
      // `iter N:` (nanoGPT) or `iteration N/M |` (Megatron)
      if (!(bytes[t + 4] === 97 ? readMegatron(bytes, s, t, b, out) : readIter(bytes, s, t, b, out))) return false;
    } else if (c !== E) {
      if (!readMegatron(bytes, s, t, b, out)) return false;
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
