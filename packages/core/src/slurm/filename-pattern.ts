/**
 * sbatch's --output/--error filename patterns (slurm-facts.md §6.2): `%j` job id (an array task's
 * RAW id), `%A` array job id, `%a` task id, `%J` jobid.stepid, `%x` job name, `%u` user, `%N` short
 * hostname, `%n` node index, `%t` task, `%s` step, `%b` task id mod 10, `%%` a percent; a number
 * zero-pads (`%4j`); a `\\` anywhere turns substitution off. One grammar for every command that
 * has to find a job's files: each supplies what it knows and decides what an unknown becomes
 * (a glob `*`, a regex, or the token left as written).
 */
export type PatternLetter = "A" | "a" | "j" | "J" | "x" | "u" | "N" | "n" | "t" | "s" | "b";

export type PatternPart = { literal: string } | { letter: PatternLetter; pad: number; raw: string };

const TOKEN = /%(\d*)([AajJxuNntsb%])/g;

/** %a of a job that is not an array task (NO_VAL). */
export const NO_ARRAY_TASK = "4294967294";

export function parseFilenamePattern(pattern: string): PatternPart[] {
  if (pattern.includes("\\\\")) return [{ literal: pattern.replaceAll("\\\\", "") }];
  const parts: PatternPart[] = [];
  let last = 0;
  for (const m of pattern.matchAll(TOKEN)) {
    if (m.index > last) parts.push({ literal: pattern.slice(last, m.index) });
    last = m.index + m[0].length;
    if (m[2] === "%") parts.push({ literal: "%" });
    else parts.push({ letter: m[2] as PatternLetter, pad: m[1] ? Number(m[1]) : 0, raw: m[0] });
  }
  if (last < pattern.length) parts.push({ literal: pattern.slice(last) });
  return parts;
}

export interface FillOptions {
  /** How literal text is written (e.g. escaped for a glob or a regex). Default: as is. */
  literal?: (text: string) => string;
  /** How a known value is written after padding. Default: as `literal` writes text. */
  value?: (text: string) => string;
  /** What an unknown token becomes. Default: the token as written (`%x`). */
  unknown?: (letter: PatternLetter, raw: string) => string;
}

/** Fills a pattern with the values known; reports which letters were unknown. */
export function fillFilenamePattern(
  pattern: string,
  values: Partial<Record<PatternLetter, string | undefined>>,
  options: FillOptions = {},
): { text: string; unknown: Set<PatternLetter> } {
  const literal = options.literal ?? ((s: string) => s);
  const value = options.value ?? literal;
  const unknown = new Set<PatternLetter>();
  let text = "";
  for (const part of parseFilenamePattern(pattern)) {
    if ("literal" in part) {
      text += literal(part.literal);
      continue;
    }
    const v = values[part.letter];
    if (v === undefined) {
      unknown.add(part.letter);
      text += options.unknown ? options.unknown(part.letter, part.raw) : part.raw;
      continue;
    }
    text += value(part.pad && /^\d+$/.test(v) ? v.padStart(part.pad, "0") : v);
  }
  return { text, unknown };
}
