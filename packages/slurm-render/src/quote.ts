/**
 * Shell quoting for bash scripts. Every value a run brings (params, argv words, paths, env values)
 * goes through `shellQuote`, so it reaches the program's argv byte for byte whatever it contains:
 * `$(...)`, backticks, quotes, `;`, `#`, backslashes, newlines, unicode.
 */

/** Words made only of these characters mean the same unquoted (no expansion, globbing, splitting). */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;
/** Control characters (newline, tab, CR, ESC, DEL...) are written as `$'\xHH'` escapes, keeping one command per line. */
const CONTROL = /[\u0000-\u001f\u007f]/;

export class QuoteError extends Error {}

/** One shell word that bash reads back as exactly `value`. */
export function shellQuote(value: string, options: { commandWord?: boolean } = {}): string {
  if (value.includes("\u0000")) throw new QuoteError("contains a NUL byte, which no program argument can hold");
  // `a=b` as the first word of a command is an assignment, not a program name: quote it.
  if (SAFE_WORD.test(value) && !(options.commandWord && value.includes("="))) return value;
  if (CONTROL.test(value)) return ansiCQuote(value);
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** bash `$'...'`: only backslash escapes are special, so escaping `\` and `'` keeps the rest literal. */
function ansiCQuote(value: string): string {
  let out = "$'";
  for (const ch of value) {
    if (ch === "\\") out += "\\\\";
    else if (ch === "'") out += "\\'";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (CONTROL.test(ch)) out += `\\x${ch.charCodeAt(0).toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return `${out}'`;
}

/** An argv array as one shell command line. */
export function quoteArgv(argv: readonly string[]): string {
  return argv.map((word, i) => shellQuote(word, { commandWord: i === 0 })).join(" ");
}

/**
 * Escapes text for the inside of a double-quoted string (`bash -c "..."`): the outer shell then
 * hands the inner shell exactly `text`.
 */
export function escapeForDoubleQuotes(text: string): string {
  return text.replace(/[\\$`"]/g, (c) => `\\${c}`);
}
