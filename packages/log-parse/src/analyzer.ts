import type { Evidence, FailureClass } from "@slurmpipe/core";
import { ANCHORS, BENIGN, BENIGN_CONTINUATION, CPU_LINE, FAILURE_HINT, GPU_HINT, GPU_LINE } from "./anchors.ts";
import { cleanSegment } from "./clean.ts";
import { DEATH_HINT, type Death, deathInLine } from "./exits.ts";
import type { KeyEntry } from "./bytes.ts";
import { FastPath } from "./fastline.ts";
import { type Emit, ExtractorState, extractMetrics } from "./metrics.ts";
import { type MetricPattern, applyUserPatterns } from "./user-metrics.ts";
import type { SegmentSink } from "./scan.ts";
import { Series } from "./series.ts";
import { type PythonException, TracebackTracker, evidence, isChainMarker } from "./traceback.ts";

export { evidence, type Frame, type PythonException } from "./traceback.ts";

/** A finding in the logs: a failure signature with where it was seen. */
export interface Signal {
  cls: FailureClass;
  what: string;
  evidence: Evidence[];
  /** Order of the first sighting over all files of the run. */
  seq: number;
  exception?: PythonException;
  count: number;
  strength: number;
}

const EVIDENCE_PER_CLASS = 3;
/** Deaths kept per run: the first ones tell (a launcher prints one line per worker after the first). */
const MAX_DEATHS = 16;
const MAX_METRICS = 48;
/** A metric line mentions a loss, or is a Keras epoch header or a DeepSpeed step line. */
const METRIC_HINT = /[lL]oss|LOSS|^\s*Epoch \d+\/\d+\s*$|\] step=\d+, skipped=/;
const NAN_ITERATIONS = /number of nan iterations:\s*([1-9]\d*)/;
/**
 * Anchors whose quick literal could span a fast line's tokens (a character other than a letter or
 * an inner blank: `execve(): `); the others can only be inside a key (see failures()).
 */
const SPANNING = Uint8Array.from(ANCHORS, (a) => (/^[A-Za-z](?:[A-Za-z ]*[A-Za-z])?$/.test(a.quick) ? 0 : 1));

/**
 * Per-byte prefilter for the scanner: a segment without any of these is skipped undecoded.
 * Broad on purpose (false positives only cost a decode); it must cover every anchor, metric
 * line, warning and GPU line.
 */
const PREFILTER_SOURCE =
  "oss|OSS|rror|RROR|xception|raceback|ANCEL|Killed|emory|oom|OOM|NCCL|nccl|Segment|SIG|Xid|ECC|fallen|quota|No space|No such|not found|can't open|shared object|Lmod|module|nan|NaN|Nan|finite|Epoch|step=|arn|ARN|OMP_NUM|MIOpen|GPU|gpu|cuda|CUDA|VISIBLE|evice|NVIDIA|Instinct|MI\\d|gfx|Tesla|available|File \"|Fatal|Current thread|Thread 0x|\\[Rank|erminated|borted|llegal instr|Floating point|Hangup|Interrupt|ignal|xitcode|xit code|eturn code";

/** One of the keys holds anchor i's quick literal (a loop, not `some`: once per anchor and line). */
function anyHolds(keys: readonly KeyEntry[], i: number): boolean {
  for (let k = 0; k < keys.length; k++) if (keys[k]!.anchors[i] === 1) return true;
  return false;
}

export interface AnalyzerOptions {
  patterns?: readonly MetricPattern[];
}

/** Collects everything log-parse learns from the files of one run. */
export class RunAnalysis {
  readonly series = new Map<string, Series>();
  readonly signals = new Map<FailureClass, Signal>();
  readonly exceptions: PythonException[] = [];
  /** Processes the logs say died, of a signal or with an exit code (shell, srun, torchrun lines). */
  readonly deaths: Death[] = [];
  benignWarnings = 0;
  gpuLine: Evidence | undefined;
  cpuLine: Evidence | undefined;
  droppedMetrics = 0;
  private seq = 0;

  constructor(readonly options: AnalyzerOptions = {}) {}

  /** A sink for one file of this run (stdout, stderr, ...). */
  sink(file: string): FileSink {
    return new FileSink(this, file);
  }

  metric(name: string, step: number | undefined, raw: string, value: number, file: string, line: number, text?: string): void {
    // A step printed with more digits than a double holds (`iter 999...9:`) is no step number.
    if (step !== undefined && !Number.isFinite(step)) step = undefined;
    let s = this.series.get(name);
    if (!s) {
      if (this.series.size >= MAX_METRICS) {
        this.droppedMetrics += 1;
        return;
      }
      s = new Series(name);
      this.series.set(name, s);
    }
    s.addAt(step, value, raw, file, line, text);
  }

  /** `strength`: lower is a more telling signature of the class (its message wins). */
  signal(cls: FailureClass, what: string, ev: Evidence, exception?: PythonException, strength = 100): void {
    const s = this.signals.get(cls);
    if (!s) {
      this.signals.set(cls, { cls, what, evidence: [ev], seq: this.seq++, count: 1, strength, ...(exception ? { exception } : {}) });
      return;
    }
    s.count += 1;
    // A chained exception replaces the one it was raised while handling: it ended the process.
    if (exception && (!s.exception || exception.cause === s.exception)) s.exception = exception;
    if (strength < s.strength) {
      s.what = what;
      s.strength = strength;
    }
    if (s.evidence.length < EVIDENCE_PER_CLASS && !s.evidence.some((e) => e.file === ev.file && e.line === ev.line)) {
      s.evidence.push(ev);
      // Same file: in line order (a NaN value found at the end of a scan may precede a message).
      s.evidence.sort((a, b) => (a.file === b.file ? a.line - b.line : 0));
    }
  }
}

export class FileSink implements SegmentSink {
  readonly prefilter: RegExp | null;
  private readonly state = new ExtractorState();
  private readonly tracebacks: TracebackTracker;
  private readonly patterns: readonly MetricPattern[];
  private lastWarningLine = -1;
  private line = 0;
  private text = "";
  private emitted = 0;
  private emit: Emit;
  /** The raw-byte readers of the common metric lines (fastline.ts). */
  private readonly fast = new FastPath();

  constructor(
    private readonly run: RunAnalysis,
    private readonly file: string,
  ) {
    this.patterns = run.options.patterns ?? [];
    this.tracebacks = new TracebackTracker(run, file);
    // User patterns can match anything: then every segment is looked at.
    this.prefilter = this.patterns.length > 0 ? null : new RegExp(PREFILTER_SOURCE, "g");
    this.emit = this.emitter();
  }

  private emitter(): Emit {
    return (name, step, raw, value) => {
      this.emitted += 1;
      this.run.metric(name, step, raw, value, this.file, this.line, this.text);
    };
  }

  /** After a restore from a snapshot (snapshot.ts): functions are not kept, the callback is rebuilt. */
  reviveSnapshot(): void {
    this.emit = this.emitter();
  }

  wantsAll(): boolean {
    return this.tracebacks.active;
  }

  /** A common metric line read from its bytes (fastline.ts); false: the scanner goes on as usual. */
  fastSegment(bytes: Buffer, latin1: string, a: number, b: number, line: number): boolean {
    if (this.prefilter === null || this.tracebacks.active || !this.fast.read(bytes, latin1, a, b)) return false;
    // Finite values only (their raw text and the line's text are never kept).
    const out = this.fast.out;
    for (let k = 0; k < out.count; k++) this.run.metric(out.names[k]!, out.step, "", out.values[k]!, this.file, line);
    if (out.hinted) {
      // A key holds a failure literal (Megatron's `number of nan iterations`, `loss scale`): the
      // general path's failure checks, on the text it would have had
      // (a dict, iter or Megatron line is ASCII: its latin1 view is its UTF-8 text, uncopied)
      const { text, rank } = cleanSegment(out.ascii ? latin1.slice(a, b) : bytes.toString("utf8", a, b));
      this.line = line;
      this.text = text;
      this.failures(text, rank, line, true, out.hintKeys);
    }
    return true;
  }

  segment(raw: string, line: number): void {
    const { text, rank } = cleanSegment(raw);
    if (text.trim() === "") return;
    this.line = line;
    this.text = text;
    if (this.tracebacks.active) this.tracebacks.line(text, rank, line);
    if (isChainMarker(text)) {
      this.tracebacks.chain(rank);
      return;
    }
    if (text.includes("Traceback (most recent call last)")) {
      this.tracebacks.start(rank, text);
      return;
    }
    if (!this.tracebacks.active && this.tracebacks.headless(rank, text, line)) return;
    if (this.patterns.length > 0) applyUserPatterns(text, this.patterns, this.emit);
    let metricLine = false;
    const metricHint = METRIC_HINT.test(text);
    if (metricHint) {
      const before = this.emitted;
      extractMetrics(text, this.state, this.emit);
      metricLine = this.emitted > before;
    }
    const failed = this.failures(text, rank, line, metricHint);
    // Lines that gave metrics are neither warnings nor device lines: skip those scans (hot path).
    if (metricLine) return;
    if (!failed && BENIGN.test(text)) {
      if (!(BENIGN_CONTINUATION.test(text) && this.lastWarningLine === line - 1)) this.run.benignWarnings += 1;
      this.lastWarningLine = line;
    }
    if (GPU_HINT.test(text)) {
      if (!this.run.gpuLine && GPU_LINE.test(text)) this.run.gpuLine = evidence(this.file, line, text);
      if (!this.run.cpuLine && CPU_LINE.test(text)) this.run.cpuLine = evidence(this.file, line, text);
    }
  }
  /**
   * What a line says of a failure (anchors, deaths, Megatron's NaN iteration count); true: it named
   * one. `hintKeys`: the line is a fast reader's, whose failure literals are all in these keys
   * (fastline.ts), so FAILURE_HINT matches, DEATH_HINT matches when a key's does, and an anchor's
   * quick literal can be in the text only when it is in a key or can span other tokens (SPANNING).
   */
  private failures(text: string, rank: string, line: number, metricHint: boolean, hintKeys?: readonly KeyEntry[]): boolean {
    if (metricHint) {
      const nanIt = text.includes("nan iterations") ? NAN_ITERATIONS.exec(text) : null;
      if (nanIt) this.run.signal("NAN_LOSS", `${nanIt[1]} NaN iterations reported`, evidence(this.file, line, text));
    }
    let failed = false;
    if (hintKeys !== undefined || FAILURE_HINT.test(text)) {
      for (let i = 0; i < ANCHORS.length; i++) {
        const a = ANCHORS[i]!;
        if (hintKeys !== undefined && SPANNING[i] === 0 && !anyHolds(hintKeys, i)) continue;
        if (text.includes(a.quick) && a.re.test(text)) {
          this.run.signal(a.cls, a.what, evidence(this.file, line, text), undefined, i);
          failed = true;
          if (a.cls === "SEGFAULT" && /Fatal Python error/.test(text)) this.tracebacks.fault(rank);
        }
      }
      if (hintKeys !== undefined ? hintKeys.some((k) => k.death) : DEATH_HINT.test(text)) {
        const d = deathInLine(text);
        if (d) {
          if (this.run.deaths.length < MAX_DEATHS) this.run.deaths.push({ ...d, from: "log", evidence: evidence(this.file, line, text) });
          failed = true;
        }
      }
    }
    return failed;
  }
}
