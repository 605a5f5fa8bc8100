/** A bad input line: names the input, the line number and (for schema errors) the field. */
export interface LineError {
  source: string;
  line: number;
  field?: string;
  message: string;
}

export function formatLineError(e: LineError): string {
  const where = `${e.source}:${e.line}`;
  return e.field ? `${where}: field "${e.field}": ${e.message}` : `${where}: ${e.message}`;
}

/** Thrown in --strict mode at the first bad line. */
export class InputError extends Error {
  constructor(readonly detail: LineError) {
    super(formatLineError(detail));
    this.name = "InputError";
  }
}

/** Thrown by the writer once the reader of stdout went away (`| head`). Not an error for the user. */
export class PipeClosedError extends Error {
  constructor() {
    super("output pipe closed");
    this.name = "PipeClosedError";
  }
}

/** A wrong command line or option combination; the CLI exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
