/**
 * Numbers as training logs print them: `1.818812E+00` (Megatron), `3.2e+4` (tqdm strips the
 * exponent's zero), `-.5`, `nan`, `nan.0` (Lightning pads to 5 chars), `NaN` (JSON), `-nan` (C),
 * `inf`, `-inf`, `Infinity`. No inline `(?i)` in Node 20 regexes, hence the spelled-out cases.
 *
 * Linear by construction: the old `\d+\.?\d*` could split one run of digits between its two
 * `\d` parts in O(n) ways, and every pattern that needs a separator after the number tried them
 * all on `loss: 1111...x` (O(n^2): 15 s for 60,000 digits). Here the fraction needs its `.`, so a
 * run of digits is read one way only, and each part has at most MAX_NUMBER_DIGITS digits (the
 * exponent 4), so a failed attempt costs a bounded number of steps however long the run. The
 * final lookahead keeps a longer run from being read as its first digits: it is no number at all.
 */
export const MAX_NUMBER_DIGITS = 64;
const M = MAX_NUMBER_DIGITS;
export const NUMBER_SOURCE = String.raw`[-+]?(?:[nN][aA][nN]|[iI][nN][fF](?:inity)?)(?:\.0)?|[-+]?(?:\d{1,${M}}(?:\.\d{0,${M}})?|\.\d{1,${M}})(?:[eE][-+]?\d{1,4})?(?![\d.]|[eE][-+]?\d)`;

const NON_FINITE = /^[-+]?(?:nan|inf(?:inity)?)(?:\.0)?$/i;

/** The value of a number token: NaN or ±Infinity for the non-finite spellings, undefined when not a number. */
export function parseNumber(raw: string): number | undefined {
  // Tokens from the extractors have no blanks around them: trim (a copy) only when an end is not
  // printable ASCII (which is never whitespace; other characters may be, e.g. U+00A0).
  const a = raw.charCodeAt(0);
  const z = raw.charCodeAt(raw.length - 1);
  const t = a > 32 && a < 127 && z > 32 && z < 127 ? raw : raw.trim();
  if (t === "") return undefined;
  const c = t.charCodeAt(t[0] === "-" || t[0] === "+" ? 1 : 0);
  if (c === 110 || c === 78 || c === 105 || c === 73) {
    // n N i I
    if (!NON_FINITE.test(t)) return undefined;
    if (/nan/i.test(t)) return Number.NaN;
    return t[0] === "-" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  const v = Number(t);
  return Number.isNaN(v) ? undefined : v;
}
