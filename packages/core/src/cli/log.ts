/**
 * Diagnostics go to stderr, never stdout (stdout carries records only). Colour only on a TTY and
 * never with NO_COLOR; progress lines only on a TTY, so cron mail and CI logs stay clean.
 */
export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  debug(msg: string): void;
  /** A transient status line, redrawn in place; silent when stderr is not a terminal. */
  progress(msg: string): void;
  /** Clears the progress line, if any. */
  done(): void;
}

export interface LoggerOptions {
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
  quiet?: boolean;
  verbose?: boolean;
}

// C0 controls but tab and newline, DEL, C1 controls (0x9b is a one-byte CSI on many terminals),
// and the bidi overrides that reorder what a terminal shows (Trojan Source).
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text from inputs (run names, file contents, Slurm's messages) made safe to print on a terminal:
 * control characters become visible escapes (ESC -> \x1b, U+202E -> \u202e), so a rejected run name
 * cannot move the cursor, recolour, retitle or hide the terminal's text; a line break is kept but
 * the next line is indented, so no input can print a line that looks like one of ours.
 */
export function escapeForTerminal(text: string): string {
  return text
    .replace(CONTROL, (c) => {
      const code = c.charCodeAt(0);
      return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
    })
    .replace(/\n(?![ \t])/g, "\n    ");
}

export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  const out = options.stderr ?? process.stderr;
  const env = options.env ?? process.env;
  const tty = Boolean(out.isTTY);
  const color = tty && !("NO_COLOR" in env) && env.TERM !== "dumb";
  const paint = (code: string, s: string) => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
  let progressShown = false;
  const clear = () => {
    if (progressShown) out.write("\r\u001b[K");
    progressShown = false;
  };
  const line = (s: string) => {
    clear();
    out.write(`${s}\n`);
  };
  // Every message is escaped here, once, whatever text it quotes; the colours are added after.
  const e = escapeForTerminal;
  return {
    info: (m) => !options.quiet && line(`${name}: ${e(m)}`),
    warn: (m) => line(`${name}: ${paint("33", "warning:")} ${e(m)}`),
    error: (m) => line(`${name}: ${paint("31", "error:")} ${e(m)}`),
    debug: (m) => options.verbose && line(`${name}: ${paint("2", e(m))}`),
    progress: (m) => {
      if (!tty || options.quiet) return;
      out.write(`\r\u001b[K${paint("2", `${name}: ${e(m).replace(/\n/g, " ")}`)}`);
      progressShown = true;
    },
    done: clear,
  };
}
