import { type PatternLetter, fillFilenamePattern } from "@slurmpipe/core";

/**
 * Matches file names against an sbatch filename pattern whose unknown tokens are wildcards (`%j`
 * any number, `%x` any text without `/`), in O(name length x pattern length). The regex this
 * replaces (`^arr-[^/]*-\d+-[^/]*\.out$`) backtracks polynomially in the number of wildcards: a
 * pattern with three unknown `%x` against a directory of names full of `-` took minutes. Here the
 * pattern is a list of steps run as a set of states over the name, one character at a time.
 */
type Step = { c: number } | "digit" | "digits*" | "any*";

const MARK = "\u0000"; // no file name or path contains NUL: safe to mark wildcards with
const DIGIT = `${MARK}d`;
const ANY = `${MARK}a`;

function compile(pattern: string, vars: Partial<Record<PatternLetter, string>>): Step[] {
  const marked = fillFilenamePattern(pattern, vars, { unknown: (letter) => (/[jAant]/.test(letter) ? DIGIT : ANY) }).text;
  const steps: Step[] = [];
  for (let i = 0; i < marked.length; i++) {
    if (marked[i] === MARK) {
      const kind = marked[++i];
      if (kind === "d") steps.push("digit", "digits*"); // \d+
      else steps.push("any*"); // [^/]*
    } else steps.push({ c: marked.charCodeAt(i) });
  }
  return steps;
}

export function nameMatcher(pattern: string, vars: Partial<Record<PatternLetter, string>>): (name: string) => boolean {
  const steps = compile(pattern, vars);
  const m = steps.length;
  let cur = new Uint8Array(m + 1);
  let next = new Uint8Array(m + 1);
  // A starred step may match nothing: reaching it also reaches the step after it.
  const close = (set: Uint8Array) => {
    for (let i = 0; i < m; i++) if (set[i] && typeof steps[i] === "string" && steps[i] !== "digit") set[i + 1] = 1;
  };
  return (name: string) => {
    cur.fill(0);
    cur[0] = 1;
    close(cur);
    for (let p = 0; p < name.length; p++) {
      const ch = name.charCodeAt(p);
      const digit = ch >= 48 && ch <= 57;
      next.fill(0);
      let alive = false;
      for (let i = 0; i < m; i++) {
        if (!cur[i]) continue;
        const s = steps[i]!;
        const to = s === "any*" ? (ch !== 47 ? i : -1) : s === "digits*" ? (digit ? i : -1) : s === "digit" ? (digit ? i + 1 : -1) : s.c === ch ? i + 1 : -1;
        if (to < 0) continue;
        next[to] = 1;
        alive = true;
      }
      if (!alive) return false;
      close(next);
      [cur, next] = [next, cur];
    }
    return cur[m] === 1;
  };
}
