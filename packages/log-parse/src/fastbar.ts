import { type FastUpdate, MAX_DIGITS, POW10, digitsEnd, intOf, isDigit, keyEntry, skipSpace } from "./bytes.ts";

const EPOCH = [69, 112, 111, 99, 104, 32]; // "Epoch "

/**
 * A Lightning tqdm update (`Epoch 3:  45%|████▌     | 450/1000 [00:10<00:12, 43.2it/s, v_num=0,
 * train_loss=2.31]`) read straight from the raw bytes. On a progress-bar log these updates are most
 * of the bytes, and decoding, cleaning and regex-matching each one was most of the time.
 *
 * `readBar` works on the raw bytes and accepts only segments it reads exactly as the general path
 * does (cleanSegment, then PL_BAR and EQ_PAIR in metrics.ts):
 * - it starts with `Epoch ` (after the rank prefixes the caller skipped as cleanSegment strips them;
 *   no indent or escape code);
 * - ASCII wherever the bytes and their UTF-8 decoding could differ for those regexes: a `\s*`
 *   that meets a non-ASCII byte (it might be a Unicode space) or non-ASCII in the `[...]` postfix
 *   makes it give up. The bar glyphs between the two `|` are skipped as PL_BAR's `[^|]*` does: an
 *   ASCII byte is never part of a UTF-8 sequence, even an invalid one, so the first `|` byte is
 *   the first `|` character;
 * - every `key=value` of the postfix is a plain decimal (at most 15 digits: `M / 10^k` is then
 *   exactly what `Number()` returns) after a key of EQ_PAIR's shape, one `=` per field.
 * - no word outside the postfix keys (glyphs, times and rate are checked): the failure checks
 *   need only look at the keys (fastline.ts), and METRIC_HINT must match in one (`lossHint`);
 * - nothing after the postfix's `]`.
 * Anything else returns false; the caller then takes the general path.
 */
export function readBar(s: Uint8Array, a: number, b: number, out: FastUpdate): boolean {
  if (b - a < 6) return false;
  for (let k = 0; k < 6; k++) if (s[a + k] !== EPOCH[k]) return false;
  // Epoch (\d+)(?:\/\d+)?:
  const e0 = a + 6;
  let i = digitsEnd(s, e0, b);
  if (i === e0 || i - e0 > MAX_DIGITS) return false;
  const epoch = intOf(s, e0, i);
  if (i < b && s[i]! === 47) {
    const d0 = i + 1;
    i = digitsEnd(s, d0, b);
    if (i === d0) return false;
  }
  if (i >= b || s[i]! !== 58) return false;
  // \s*\d+%\|[^|]*\|
  i = skipSpace(s, i + 1, b);
  if (i < 0) return false;
  const p0 = i;
  i = digitsEnd(s, p0, b);
  if (i === p0 || i + 1 >= b || s[i]! !== 37 || s[i + 1]! !== 124) return false;
  i += 2;
  // The glyphs: block characters (non-ASCII), blanks, or tqdm's ASCII `#` and digits; no word
  for (; i < b; i++) {
    const c = s[i]!;
    if (c === 124) break;
    if (c < 128 && c !== 32 && c !== 35 && !isDigit(c)) return false;
  }
  if (i >= b) return false;
  // \s*(\d+)\/(\d+)
  i = skipSpace(s, i + 1, b);
  if (i < 0) return false;
  const n0 = i;
  i = digitsEnd(s, n0, b);
  if (i === n0 || i - n0 > MAX_DIGITS || i >= b || s[i]! !== 47) return false;
  const n = intOf(s, n0, i);
  const t0 = i + 1;
  i = digitsEnd(s, t0, b);
  if (i === t0 || i - t0 > MAX_DIGITS) return false;
  const total = intOf(s, t0, i);
  // \s*\[([^\]]*)
  i = skipSpace(s, i, b);
  if (i < 0 || i >= b || s[i]! !== 91) return false;
  if (n === 0) return false; // a fresh bar: the general path decides (it emits nothing)
  out.step = epoch * total + n;
  // Nothing after the postfix: a message glued onto the bar is read by the general path
  const end = readPairs(s, i + 1, b, out);
  return end === b || end === b - 1;
}

/**
 * The postfix `[...]` up to the first `]` (or the end): fields split at `,`; a field without `=`
 * holds no EQ_PAIR match (a match needs `=` and no field character is a separator) and must be
 * tqdm's times and rate (digits, `:<.?/ `, `it/s`, `s/it`: no word a failure check looks for), a
 * field with one is ` *key=value`. Fills `out` with the metrics (axis keys such as v_num dropped,
 * as emitPairs does); returns where it stopped (the `]`, or `b`), -1 when it gives up.
 */
function readPairs(s: Uint8Array, cs: number, b: number, out: FastUpdate): number {
  out.count = 0;
  let fs = cs;
  for (;;) {
    let eq = -1;
    let fe = fs;
    let c = 0;
    for (; fe < b; fe++) {
      c = s[fe]!;
      if (c === 44 || c === 93) break; // , ]
      if (c >= 128) return -1;
      if (c === 61) {
        if (eq >= 0) return -1;
        eq = fe;
      }
    }
    if (eq >= 0 ? !readPair(s, fs, eq, fe, out) : !timeField(s, fs, fe)) return -1;
    if (fe >= b || c === 93) return fe;
    fs = fe + 1;
  }
}

function timeField(s: Uint8Array, a: number, b: number): boolean {
  for (let i = a; i < b; i++) {
    const c = s[i]!;
    if (!(isDigit(c) || c === 32 || c === 58 || c === 60 || c === 46 || c === 63 || c === 47 || c === 105 || c === 116 || c === 115)) return false;
  }
  return true;
}

/** One ` *key=value` field `[fs, fe)` with its `=` at `eq`. */
function readPair(s: Uint8Array, fs: number, eq: number, fe: number, out: FastUpdate): boolean {
  // Key: [A-Za-z][\w./-]{0,63}, after the field's `,` (a separator), spaces, or the postfix start (^).
  let ks = fs;
  while (ks < eq && s[ks]! === 32) ks++;
  if (ks === eq || eq - ks > 64) return false;
  const k0 = s[ks]!;
  if ((k0 | 32) < 97 || (k0 | 32) > 122) return false;
  let hash = k0;
  for (let i = ks + 1; i < eq; i++) {
    const c = s[i]!;
    if (!(isDigit(c) || ((c | 32) >= 97 && (c | 32) <= 122) || c === 95 || c === 46 || c === 47 || c === 45)) return false;
    hash = (Math.imul(hash, 31) + c) | 0;
  }
  // Value: -?\d+(\.\d*)? ending the field.
  let i = eq + 1;
  const neg = i < fe && s[i]! === 45;
  if (neg) i++;
  const i0 = i;
  i = digitsEnd(s, i0, fe);
  if (i === i0) return false;
  let mantissa = intOf(s, i0, i);
  let digits = i - i0;
  let scale = 0;
  if (i < fe && s[i]! === 46) {
    const f0 = i + 1;
    i = digitsEnd(s, f0, fe);
    digits += i - f0;
    scale = i - f0;
    if (digits <= MAX_DIGITS) mantissa = mantissa * POW10[scale]! + intOf(s, f0, i);
  }
  if (i !== fe || digits > MAX_DIGITS) return false;
  const key = keyEntry(s, ks, eq, hash);
  if (key.failureHint) out.hintKeys.push(key);
  if (key.lossHint) out.lossHint = true;
  if (!key.metric) return true;
  const v = mantissa / POW10[scale]!;
  out.add(key.name, neg ? -v : v);
  return true;
}
