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
  return {
    info: (m) => !options.quiet && line(`${name}: ${m}`),
    warn: (m) => line(`${name}: ${paint("33", "warning:")} ${m}`),
    error: (m) => line(`${name}: ${paint("31", "error:")} ${m}`),
    debug: (m) => options.verbose && line(`${name}: ${paint("2", m)}`),
    progress: (m) => {
      if (!tty || options.quiet) return;
      out.write(`\r\u001b[K${paint("2", `${name}: ${m}`)}`);
      progressShown = true;
    },
    done: clear,
  };
}
