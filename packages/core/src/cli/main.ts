import yargs, { type Argv } from "yargs";
import { hideBin } from "yargs/helpers";
import { InputError, PipeClosedError, UsageError } from "../ndjson/errors.ts";
import { COMPLETION_FLAG, COMPLETION_SHELL_ENV, completionReply, flagsOf } from "./completion.ts";
import { type Logger, createLogger, escapeForTerminal } from "./log.ts";

export interface CommandContext {
  stdin: NodeJS.ReadableStream & AsyncIterable<Buffer | string>;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  log: Logger;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface CommandSpec<A> {
  name: string;
  usage: string;
  description: string;
  /** Adds the command's options to yargs. */
  options: (y: Argv) => Argv<A>;
  examples?: [string, string][];
  /** Exit-code and I/O notes printed at the end of --help. */
  epilogue?: string;
  /**
   * Commands whose work is a side effect (writing an archive) finish it even when the reader of
   * stdout went away; the others end quietly at once on EPIPE.
   */
  finishOnClosedPipe?: boolean;
  /** Runs the command; returns the exit code (0 ok, 1 some records failed, 3 command-specific). */
  run: (args: A, ctx: CommandContext) => Promise<number>;
}

const STANDARD_EPILOGUE =
  "Reads and writes NDJSON (one JSON object per line). Records go to stdout; diagnostics to stderr.\n" +
  "Exit codes: 0 ok, 1 some records failed (the others were still processed), 2 usage error.";

/**
 * yargs names an unknown option by its parsed key, not as typed: `--no-such-flag` is reported as
 * "Unknown arguments: such-flag, suchFlag" (the `no-` read as a negation, the key twice). Names
 * the flags the user typed instead: "Unknown option: --no-such-flag". Other messages pass as they are.
 */
export function namingFlagsAsTyped(msg: string, argv: readonly string[]): string {
  const m = /^Unknown arguments?: (.*)$/.exec(msg);
  if (!m) return msg;
  const keys = new Set(m[1]!.split(", "));
  const camel = (k: string) => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const typed = argv
    .filter((a) => /^--?[^-\d]/.test(a))
    .map((a) => a.split("=")[0]!)
    .filter((flag) => {
      const key = flag.replace(/^--?/, "");
      return [key, key.replace(/^no-/, "")].some((k) => keys.has(k) || keys.has(camel(k)));
    });
  const named = [...new Set(typed)];
  if (named.length === 0) return msg;
  return `Unknown option${named.length > 1 ? "s" : ""}: ${named.join(", ")}`;
}

/**
 * The thin yargs shell every command shares: strict option parsing (usage errors exit 2),
 * --help/--version, quiet exit on a closed pipe (`| head -1`), and exit codes from the library.
 */
export async function runCommand<A>(spec: CommandSpec<A>, argv: string[] = hideBin(process.argv)): Promise<never> {
  const log = createLogger(spec.name);
  // A reader that went away (EPIPE) ends the command quietly; see NdjsonWriter.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE" && !spec.finishOnClosedPipe) process.exit(process.exitCode ?? 0);
  });
  // If the command's promise never settles, Node would exit 0 with nothing said: failure
  // disguised as success. Say so and exit 1 instead.
  let settled = false;
  process.on("beforeExit", () => {
    if (settled) return;
    log.error("internal error: the command stopped before it finished (a promise never settled)");
    process.exit(1);
  });
  let parser = yargs(argv)
    .scriptName(spec.name)
    .usage(`${spec.usage}\n\n${wordWrap(spec.description, 100)}`)
    .strict()
    .help()
    .alias("h", "help")
    .version(process.env.SLURMPIPE_VERSION ?? "0.0.0-dev")
    // yargs' own wrapping breaks words in the middle of the usage text; wrap prose ourselves.
    .wrap(null)
    .epilogue(wordWrap(spec.epilogue ? `${spec.epilogue}\n\n${STANDARD_EPILOGUE}` : STANDARD_EPILOGUE, 100))
    // Thrown, not printed and exited here: the usage message then leaves through the same path
    // as every other outcome (exitCodeFor, then a flushed exit).
    .fail((msg, err) => {
      if (err && !(err instanceof UsageError)) throw err;
      throw err ?? new UsageError(namingFlagsAsTyped(msg, argv));
    });
  for (const [cmd, text] of spec.examples ?? []) parser = parser.example(cmd, text);
  // A TAB in a shell that sourced `slurmpipe completion` (see completion.ts): answer, run nothing.
  if (argv[0] === COMPLETION_FLAG) {
    process.stdout.write(completionReply(flagsOf(spec.options(parser)), argv.slice(1), process.env[COMPLETION_SHELL_ENV]));
    settled = true;
    await flushed(process.stdout);
    process.exit(0);
  }
  let code: number;
  try {
    const args = (await spec.options(parser).parseAsync()) as A;
    code = await spec.run(args, {
      stdin: process.stdin as CommandContext["stdin"],
      stdout: process.stdout,
      stderr: process.stderr,
      log,
      env: process.env,
      cwd: process.cwd(),
    });
  } catch (e) {
    code = exitCodeFor(e, spec.name, log);
  }
  settled = true;
  log.done();
  // process.exit() drops whatever is still queued for a pipe (writes to pipes are asynchronous):
  // a slow reader lost the tail of the output with exit 0. Wait until stdout and stderr have
  // handed everything to the kernel, then exit (exit, not exitCode: a detached child or a timer
  // must not keep a finished command alive).
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

/**
 * Resolves once everything written to the stream so far has been handed to the OS. An empty
 * write's callback runs after every earlier write (writes complete in order); a stream that is
 * closed or failed (EPIPE) has nothing left to wait for.
 */
export function flushed(stream: NodeJS.WritableStream): Promise<void> {
  const w = stream as NodeJS.WritableStream & { destroyed?: boolean; writableEnded?: boolean; writableLength?: number };
  if (w.destroyed || w.writableEnded || w.writableLength === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      w.off("close", done);
      w.off("error", done);
      resolve();
    };
    w.once("close", done);
    w.once("error", done);
    w.write("", done);
  });
}

/** Maps an error that escaped a command to its exit code, printing what the user needs. */
export function exitCodeFor(e: unknown, name: string, log: Logger = createLogger(name)): number {
  if (e instanceof PipeClosedError) return Number(process.exitCode ?? 0);
  if (e instanceof UsageError) {
    process.stderr.write(`${name}: ${escapeForTerminal(e.message)}\nTry '${name} --help' for more information.\n`);
    return 2;
  }
  if (e instanceof InputError) {
    log.error(`${e.message} (stopped: --strict)`);
    return 1;
  }
  const err = e as Error;
  log.error(process.env.SLURMPIPE_DEBUG ? String(err.stack ?? err) : err.message);
  return 1;
}

/** Wraps prose at word boundaries; lines that look preformatted (indented) are kept as they are. */
export function wordWrap(text: string, width: number): string {
  return text
    .split("\n")
    .map((line) => {
      if (line.length <= width || /^\s/.test(line)) return line;
      const out: string[] = [];
      let cur = "";
      for (const word of line.split(" ")) {
        if (cur && cur.length + 1 + word.length > width) {
          out.push(cur);
          cur = word;
        } else cur = cur ? `${cur} ${word}` : word;
      }
      if (cur) out.push(cur);
      return out.join("\n");
    })
    .join("\n");
}
