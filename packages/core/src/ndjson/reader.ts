import { createReadStream } from "node:fs";
import type { z } from "zod";
import { escapeForTerminal } from "../cli/log.ts";
import { InputError, type LineError, formatLineError } from "./errors.ts";
import { splitLines } from "./lines.ts";

export interface ReadOptions<T> {
  /** Name used in error messages: a file path or "stdin". */
  source?: string;
  /** Validates each record; unknown fields pass through when the schema is loose. */
  schema?: z.ZodType<T>;
  maxLineBytes?: number;
  /** Stop at the first bad line (throws InputError). */
  strict?: boolean;
  /** Receives every bad line when not strict. Defaults to nothing; see ErrorCounter. */
  onError?: (e: LineError) => void;
}

export interface ReadItem<T> {
  value: T;
  source: string;
  line: number;
}

/** Path of the first field a zod error complains about, in `a.b[0].c` form. */
export function zodField(error: z.ZodError): { field?: string; message: string } {
  const issue = error.issues[0];
  if (!issue) return { message: "invalid record" };
  const field = issue.path
    .map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join("");
  return field ? { field, message: issue.message } : { message: issue.message };
}

/**
 * Streams NDJSON records. Blank lines are skipped; CRLF, a BOM and a last line without newline
 * are accepted. A bad line is reported (source, line, field) and skipped, so the valid records
 * around it are never lost; with `strict` the first one throws.
 */
export async function* readNdjson<T = Record<string, unknown>>(
  input: AsyncIterable<Buffer | string | Uint8Array>,
  options: ReadOptions<T> = {},
): AsyncGenerator<ReadItem<T>> {
  const source = options.source ?? "stdin";
  const bad = (e: Omit<LineError, "source">) => {
    const err: LineError = { source, ...e };
    if (options.strict) throw new InputError(err);
    options.onError?.(err);
  };
  for await (const line of splitLines(input, options.maxLineBytes)) {
    if (line.oversize !== undefined) {
      bad({ line: line.number, message: `line is ${line.oversize} bytes, over the ${options.maxLineBytes ?? 16 * 1024 * 1024}-byte limit` });
      continue;
    }
    const text = line.text.trim();
    if (text === "") continue;
    const depth = nestingOver(text, MAX_DEPTH);
    if (depth) {
      bad({ line: line.number, message: `nested deeper than ${MAX_DEPTH} levels (at character ${depth}): not a record` });
      continue;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      bad({ line: line.number, message: `not JSON: ${(e as Error).message}` });
      continue;
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      bad({ line: line.number, message: "expected a JSON object" });
      continue;
    }
    if (options.schema) {
      const result = options.schema.safeParse(parsed);
      if (!result.success) {
        bad({ line: line.number, ...zodField(result.error) });
        continue;
      }
      yield { value: result.data, source, line: line.number };
    } else {
      yield { value: parsed as T, source, line: line.number };
    }
  }
}

/** Reads records from files in order ("-" or none means stdin). */
export async function* readNdjsonInputs<T = Record<string, unknown>>(
  paths: readonly string[],
  options: Omit<ReadOptions<T>, "source"> & { stdin?: AsyncIterable<Buffer | string> } = {},
): AsyncGenerator<ReadItem<T>> {
  const list = paths.length === 0 ? ["-"] : paths;
  for (const path of list) {
    const stream = path === "-" ? (options.stdin ?? process.stdin) : createReadStream(path);
    yield* readNdjson<T>(stream, { ...options, source: path === "-" ? "stdin" : path });
  }
}

/** Collects bad-line reports, prints each on stderr as `prog: source:line: field: message`. */
export class ErrorCounter {
  count = 0;
  constructor(
    private readonly prog: string,
    private readonly stderr: NodeJS.WritableStream = process.stderr,
  ) {}
  readonly report = (e: LineError): void => {
    this.count += 1;
    this.stderr.write(`${this.prog}: error: ${escapeForTerminal(formatLineError(e))}\n`);
  };
}

/**
 * Deepest nesting a record may have. Records are a few levels deep (params may nest a little);
 * V8 parses any depth, but JSON.stringify, zod and every recursive walk of a record overflow the
 * stack near 10,000 levels: one such line stopped a command with "Maximum call stack size
 * exceeded", no line number, and the records after it lost.
 */
export const MAX_DEPTH = 100;

/**
 * Where (1-based character) a JSON text first opens more than `max` nested arrays/objects, or 0.
 * One linear pass; brackets inside strings do not count. A text shorter than 2 * max + 1 cannot
 * nest that deep, so ordinary short lines cost one comparison.
 */
export function nestingOver(text: string, max: number): number {
  if (text.length <= 2 * max) return 0;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // a string: jump to its closing quote (one not escaped by an odd run of backslashes)
      let end = text.indexOf('"', i + 1);
      while (end !== -1 && escaped(text, end)) end = text.indexOf('"', end + 1);
      if (end === -1) return 0; // unterminated: JSON.parse reports it
      i = end;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return i + 1;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return 0;
}

function escaped(text: string, quote: number): boolean {
  let n = 0;
  for (let k = quote - 1; k >= 0 && text.charCodeAt(k) === 0x5c; k--) n++;
  return n % 2 === 1;
}
