/**
 * What the scanner (scan.ts) hands out and takes: the sink it feeds, its counts, where an
 * incremental scan goes on from, and its options.
 */
export interface SegmentSink {
  /** Keyword prefilter over raw bytes (global flag); null: every segment is a candidate. */
  readonly prefilter: RegExp | null;
  /** True while the sink needs every segment regardless of the prefilter (inside a traceback). */
  wantsAll(): boolean;
  /** One segment, decoded; `line` is the 1-based physical line it sits on. */
  segment(text: string, line: number): void;
  /**
   * Optional: every segment as raw bytes `[a, b)` of `bytes`, with `latin1` the same bytes viewed
   * as a latin1 string (same offsets), before the prefilter: true when the sink read it whole
   * without decoding (a common metric line), so it is neither searched nor decoded. It must accept
   * only segments the prefilter would pass.
   */
  fastSegment?(bytes: Buffer, latin1: string, a: number, b: number, line: number): boolean;
}

export interface ScanStats {
  lines: number;
  bytes: number;
  /** Physical lines longer than the cap, scanned in pieces. */
  oversize: number;
  /** The file did not end with a newline (a running job's partial line). */
  partialLastLine: boolean;
}

/**
 * Where a scan can go on from, with the counts up to it: a line boundary, or a `\r` inside the
 * unfinished last line (a progress bar: its updates before the point were read). Inside a line,
 * `lineBytes` is how much of it lies before the point (a line is cut into pieces, and counted in
 * `oversize`, by its length from its start), and `continuing` says it was already cut (then the
 * point is a piece boundary and `lineBytes` is 0).
 */
export interface ResumePoint {
  offset: number;
  lines: number;
  oversize: number;
  lineBytes?: number;
  continuing?: boolean;
}

/**
 * A scan that went on from inside a line met what a full read may cut differently: a piece of an
 * over-long line ending without a `\r` (where it ends depends on where the line's pieces began).
 * The caller reads the log again from the start.
 */
export class ResumeDiverged extends Error {}

/** Incremental scans (incremental.ts): start at a resume point, and learn where to start next time. */
export interface ScanResume {
  /** Go on from here (the sink must hold the state it had there). */
  from?: ResumePoint;
  /**
   * Called once, at the last point the next run can go on from: after the last `\r` of the
   * unfinished last line (its updates before it have reached the sink), else after the last whole
   * line; the sink's state now is the state at the returned point, and what follows it (the bar's
   * current update) reaches the sink after the call (it is read again next time, completed).
   */
  checkpoint?(at: ResumePoint): void;
}

export interface ScanOptions {
  /**
   * A longer line is scanned in pieces of at most this many bytes (default 1 MiB, at most
   * MAX_LINE_BYTES): each piece ends after its last `\r` when it has one (the updates before it
   * are whole; the bar's current state after it goes on into the next piece), else after its last
   * space in its second half, else at the limit. A message cut by such a boundary may be missed;
   * memory stays bounded by the limit.
   */
  maxLineBytes?: number;
  highWaterMark?: number;
}

/** The largest --max-line-bytes: a piece is viewed as one string, and V8 strings end at 512 MiB. */
export const MAX_LINE_BYTES = 256 * 1024 * 1024;
