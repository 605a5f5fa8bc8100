import type { Evidence, FailureClass } from "@slurmpipe/core";
import { ANCHORS } from "./anchors.ts";

/** Python tracebacks and faulthandler dumps, followed per rank to their exception line. */
export interface Frame {
  file: string;
  line: number;
  function: string;
}

export interface PythonException {
  type: string;
  message: string;
  frame?: Frame;
  rank?: string;
  evidence: Evidence;
  /**
   * The exception this one was raised while handling (`During handling of the above exception,
   * another exception occurred:` / `The above exception was the direct cause of ...`).
   */
  cause?: PythonException;
}

/** Where a chain of tracebacks goes on: Python prints the exception that propagated last. */
const CHAIN_MARKER = /^During handling of the above exception, another exception occurred:|^The above exception was the direct cause of the following exception:/;

export function isChainMarker(text: string): boolean {
  return text.includes("above exception") && CHAIN_MARKER.test(text.trim());
}

/** The exceptions before `e` in its chain, oldest first. */
export function chainOf(e: PythonException): { type: string; message: string }[] {
  const out: { type: string; message: string }[] = [];
  for (let c = e.cause; c && out.length < 8; c = c.cause) out.unshift({ type: c.type, message: c.message });
  return out;
}

/** What the tracker reports into (RunAnalysis). */
export interface SignalSink {
  readonly exceptions: PythonException[];
  readonly signals: Map<FailureClass, { exception?: PythonException }>;
  signal(cls: FailureClass, what: string, ev: Evidence, exception?: PythonException): void;
}

const EVIDENCE_TEXT = 400;
/** An exception's type and message as kept and reported: a whole 100 MB line is not a message. */
const MAX_TYPE = 256;
const MAX_MESSAGE = 4096;
const MAX_TRACEBACK_LINES = 2000;
const MAX_EXCEPTIONS = 20;

export function evidence(file: string, line: number, text: string): Evidence {
  const t = text.trim();
  return { file, line, text: clip(t, EVIDENCE_TEXT) };
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** Exception types that only wrap the real error raised earlier (launcher side). */
const WRAPPER_EXCEPTIONS = /(?:^|\.)(?:ChildFailedError|CalledProcessError|ProcessRaisedException|ProcessExitedException|SystemExit|KeyboardInterrupt)$/;
/** The start of `  File "x.py", line 3, in main` (the function name is read by frameFunction). */
const FRAME_HEAD = /^\s*(?:│\s*)?File "([^"]+)", line (\d+), in /;
const RICH_FRAME = /^\s*│\s*(\S+?):(\d+) in (\S+)/;
const FAULT_FRAME = /^\s*File "([^"]+)", line (\d+) in (\S+)/;
const EXCEPTION_LINE = /^([A-Za-z_][\w.]*?(?:Error|Exception|Interrupt|Exit|Warning|Failure|Fault|Timeout|Abort|StopIteration))(?::\s?(.*))?$/;
/**
 * An exception whose name has none of the usual endings (`concurrent.futures.process.BrokenProcessPool:
 * A process in the process pool was terminated abruptly ...`): a module-qualified CamelCase name, or a
 * CamelCase name with a message. Looked for only where a traceback's exception line is due.
 */
const OTHER_EXCEPTION_LINE = /^((?:[a-z_]\w{0,63}\.){1,16}[A-Z]\w{0,127})(?::\s?(.*))?$|^([A-Z]\w{0,127}): (.*)$/;
export const BOX = /^\s*[╭│╰]/;
const LINE_TERMINATOR = /[\n\r\u2028\u2029]/;

/**
 * The function name after `in `: what `(.+?)\s*(?:│\s*)?$` captured, computed by hand. That regex
 * retried `\s*` from every position of a run of spaces (O(n^2) on `in f<100,000 spaces>x`): the
 * lazy group is the shortest non-empty prefix whose rest is spaces, at most one `│`, spaces.
 */
function frameFunction(text: string, from: number): string | undefined {
  if (from >= text.length) return undefined;
  let end = from + text.slice(from).trimEnd().length;
  if (end > from && text.charCodeAt(end - 1) === 0x2502) end = from + text.slice(from, end - 1).trimEnd().length;
  const name = text.slice(from, Math.max(from + 1, end));
  return LINE_TERMINATOR.test(name) ? undefined : name; // `.` does not match those
}

function frameOf(text: string): Frame | undefined {
  const m = FRAME_HEAD.exec(text);
  if (!m) return undefined;
  const fn = frameFunction(text, m[0].length);
  return fn === undefined ? undefined : { file: m[1]!, line: Number(m[2]), function: fn };
}

interface Open {
  frame?: Frame;
  /** The exception whose chain marker came right before this traceback. */
  cause?: PythonException;
  /** Value of `seen` when the traceback started. */
  start: number;
  rich: boolean;
}

/**
 * The open tracebacks of one file, by rank. A traceback whose exception line never came (a killed
 * rank) is dropped after MAX_TRACEBACK_LINES further segments, so one lost line cannot switch the
 * prefilter off for the rest of the file. The map is kept in start order, so expiring looks only at
 * its oldest entries: visiting every open traceback on every line cost O(lines x ranks).
 */
export class TracebackTracker {
  private readonly open = new Map<string, Open>();
  private readonly faultFrame = new Set<string>();
  /** Per rank: the last exception closed, and whether a chain marker followed it. */
  private readonly closed = new Map<string, { exc: PythonException; chained: boolean }>();
  /** Segments looked at while a traceback or faulthandler dump was open. */
  private seen = 0;

  constructor(
    private readonly run: SignalSink,
    private readonly file: string,
  ) {}

  get active(): boolean {
    return this.open.size > 0 || this.faultFrame.size > 0;
  }

  start(rank: string, text: string): void {
    this.open.delete(rank); // re-inserted at the end: the map stays in start order
    const last = this.closed.get(rank);
    this.closed.delete(rank);
    this.open.set(rank, { start: this.seen, rich: BOX.test(text), ...(last?.chained ? { cause: last.exc } : {}) });
  }

  /**
   * A frame line (`  File "x.py", line 3, in f`) with no traceback open for its rank: a traceback
   * whose header was lost (a log cut or rotated, a quote that starts mid-stack, an interleaved
   * multi-rank print). Opens one, so its exception line is still read. False: not such a line.
   */
  headless(rank: string, text: string, line: number): boolean {
    if (this.open.has(rank) || !text.includes('File "') || !frameOf(text)) return false;
    this.start(rank, "");
    this.line(text, rank, line);
    return true;
  }

  /** A chain marker line: the next traceback of this rank was raised while handling the last one. */
  chain(rank: string): void {
    const last = this.closed.get(rank);
    if (last) last.chained = true;
  }

  /** A `Fatal Python error` line: faulthandler's innermost frame follows. */
  fault(rank: string): void {
    this.faultFrame.add(rank);
  }

  /** One segment while `active`. */
  line(text: string, rank: string, line: number): void {
    this.seen += 1;
    if (this.faultFrame.has(rank)) this.faultLine(text, rank, line);
    for (const [r, open] of this.open) {
      if (this.seen - open.start <= MAX_TRACEBACK_LINES) break;
      this.open.delete(r);
    }
    const tb = this.open.get(rank);
    if (!tb) return;
    const f = frameOf(text) ?? (tb.rich ? RICH_FRAME.exec(text) : null);
    if (f) {
      tb.frame = Array.isArray(f) ? { file: f[1]!, line: Number(f[2]), function: f[3]! } : f;
      return;
    }
    if (/^\s/.test(text) || (tb.rich && BOX.test(text))) return;
    const line0 = text.trimEnd();
    const e = EXCEPTION_LINE.exec(line0);
    const o = e ? null : OTHER_EXCEPTION_LINE.exec(line0);
    if (!e && !o) return;
    const m = e ?? [line0, o![1] ?? o![3], o![2] ?? o![4]];
    this.open.delete(rank);
    const type = m[1]!;
    const exc: PythonException = {
      type: clip(type, MAX_TYPE),
      message: clip((m[2] ?? "").trim(), MAX_MESSAGE),
      ...(tb.frame ? { frame: tb.frame } : {}),
      ...(rank ? { rank } : {}),
      evidence: evidence(this.file, line, text),
      ...(tb.cause ? { cause: tb.cause } : {}),
    };
    if (this.closed.size >= MAX_EXCEPTIONS) this.closed.clear();
    this.closed.set(rank, { exc, chained: false });
    if (this.run.exceptions.length < MAX_EXCEPTIONS) this.run.exceptions.push(exc);
    if (!WRAPPER_EXCEPTIONS.test(type)) {
      // Attach the exception to the most specific class its line shows (CUDA OOM, import, ...);
      // otherwise it is a plain Python exception.
      const cls = ANCHORS.find((a) => text.includes(a.quick) && a.re.test(text))?.cls ?? "PYTHON_EXCEPTION";
      this.run.signal(cls, cls === "PYTHON_EXCEPTION" ? "Python exception" : (ANCHORS.find((a) => a.cls === cls)?.what ?? cls), exc.evidence, exc);
    }
  }

  // faulthandler: "Current thread 0x... (most recent call first):", then the innermost frame first.
  private faultLine(text: string, rank: string, line: number): void {
    const f = FAULT_FRAME.exec(text);
    if (f) {
      const sig = this.run.signals.get("SEGFAULT");
      if (sig && !sig.exception)
        sig.exception = { type: "Fatal Python error", message: "Segmentation fault", frame: { file: f[1]!, line: Number(f[2]), function: f[3]! }, evidence: evidence(this.file, line, text), ...(rank ? { rank } : {}) };
      this.faultFrame.delete(rank);
    } else if (!/Current thread|Thread 0x|most recent call first|^\s*$/.test(text) && !/Fatal Python error/.test(text)) this.faultFrame.delete(rank);
  }
}
