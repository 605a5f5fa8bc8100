/**
 * Shell quoting, the one copy: every command line slurmpipe writes (slurm-render's scripts) or
 * shows (summary-md's rerun commands, slurm-poll's logged Slurm calls) goes through `shellQuote`,
 * so a value reaches the program's argv byte for byte whatever it contains: `$(...)`, backticks,
 * quotes, `;`, `#`, backslashes, newlines, escape sequences, unicode. Control characters become
 * `$'\xHH'` escapes, so a pasted command stays one line and a terminal shows no raw escapes.
 */

/** Words made only of these characters mean the same unquoted (no expansion, globbing, splitting). */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;
/** Control characters (newline, tab, CR, ESC, DEL...) are written as `$'\xHH'` escapes, keeping one command per line. */
const CONTROL = /[\u0000-\u001f\u007f]/;

export class QuoteError extends Error {}

/** One shell word that bash reads back as exactly `value`. */
export function shellQuote(value: string, options: { commandWord?: boolean; posix?: boolean } = {}): string {
  if (value.includes("\u0000")) throw new QuoteError("contains a NUL byte, which no program argument can hold");
  // `a=b` as the first word of a command is an assignment, not a program name: quote it.
  if (SAFE_WORD.test(value) && !(options.commandWord && value.includes("="))) return value;
  // posix: for a shell that may not be bash (a remote login shell: dash has no `$'...'`); single
  // quotes hold any byte but NUL in every POSIX shell, newlines included.
  if (CONTROL.test(value) && !options.posix) return ansiCQuote(value);
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

/**
 * `shellQuote` for a command line that is only shown, never run by slurmpipe: a NUL byte (which no
 * argument can hold, so `shellQuote` refuses it) is shown as `\x00` inside `$'...'`, where bash
 * would cut the word; the reader sees the byte instead of the command failing to print.
 */
export function shellQuoteForDisplay(value: string): string {
  return value.includes("\u0000") ? ansiCQuote(value) : shellQuote(value);
}
