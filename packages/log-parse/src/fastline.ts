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
 * - the line is exactly one reader's shape (else it gives up) and gives at least one finite metric
 *   (a line without one goes on to the warning and GPU checks);
 * - each reader accepts only its own bytes: no control byte (so no escape code or backspace that
 *   cleaning would remove), a start (`Epoch`, `{`, `iter`, `iteration`, `[date]`) that the anchored
 *   chain-marker and frame patterns cannot match, no `(` of a traceback start outside a key, and
 *   words only in the keys (a bar's glyphs, times and rate are checked too). No failure literal
 *   can span a key and the quote, `=`, colon, blank or digits around it (only `File "` ends in a
 *   quote, and FRAME_HEAD anchors it at the line start), so only the keys are tested, once per
 *   distinct key: KeyEntry.structural gives up, KeyEntry.failureHint has the failure checks run.
 * test/fastpath.test.ts compares both paths on near misses and on random mutations of each shape.
 */
const E = 69; // Epoch (a Lightning bar)
const BRACE = 123; // { (an HF dict)
const I = 105; // iter (nanoGPT), iteration (Megatron)

/** A file's fast readers and what they found in the last line. */
export class FastPath {
  readonly out = new FastUpdate();

  /** The metrics of segment `[a, b)` of `bytes` (`latin1`: the same bytes as a string), or false: take the general path. */
  read(bytes: Buffer, s: string, a: number, b: number): boolean {
    const t = skipRankPrefixes(bytes, a, b);
    const c = t < b ? bytes[t]! : 0;
    if (c !== E && c !== BRACE && c !== I && c !== SPACE && c !== 91) return false; // 91: [ (Megatron's date)
    const out = this.out;
    out.count = 0;
    out.step = undefined;
    out.hinted = false;
    out.lossHint = false;
    out.ascii = c !== E;
    if (out.hintKeys.length > 0) out.hintKeys.length = 0;
    if (c === BRACE) {
      if (!readDict(bytes, s, t, b, out)) return false;
    } else if (c === I) {
      // `iter N:` (nanoGPT) or `iteration N/M |` (Megatron)
      if (!(bytes[t + 4] === 97 ? readMegatron(bytes, s, t, b, out) : readIter(bytes, s, t, b, out))) return false;
    } else if (c !== E) {
      if (!readMegatron(bytes, s, t, b, out)) return false;
    } else {
      if (!readBar(bytes, t, b, out) || !out.lossHint) return false;
      out.hinted = out.hintKeys.length > 0;
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
