import { appendFile } from "node:fs/promises";

/**
 * `--log FILE`: the run log of the torchtune workflow (seeds/002), one block per action:
 *   [YYYY-MM-DD HH:MM:SS] ACTION: subject
 *   Key: value
 *   (blank line)
 * Actions: DISCOVER_EXPERIMENT, IDENTIFY_RUNS, SUBMIT_JOB (a job enters the watch), SUBMIT_FAILED,
 * ALL_SUBMITTED (see submit-log.ts), STATUS_CHECK (every cycle), STATE_CHANGE, CANCEL_BLOCKED,
 * EARLY_FAILURE, REQUEUE_LIMIT, JOB_LOST, ALL_COMPLETE, MONITOR_STOPPED.
 */
export function logStamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** An ISO time as the log prints times (local, seconds). */
export function logTime(iso: string | undefined): string | undefined {
  if (!iso) return undefined;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : logStamp(d);
}

/** "8m 2s", "1h 4m 0s", "12s". */
export function humanElapsed(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (h > 0) return `${h}h ${m}m ${rest}s`;
  if (m > 0) return `${m}m ${rest}s`;
  return `${rest}s`;
}

export function formatEntry(at: Date, action: string, subject: string, details: [string, string | number | undefined][]): string {
  const lines = [`[${logStamp(at)}] ${action}: ${subject}`];
  for (const [k, v] of details) if (v !== undefined && v !== "") lines.push(`${k}: ${v}`);
  return `${lines.join("\n")}\n\n`;
}

/** Text gathered before it is appended without waiting for the end of the cycle. */
const FLUSH_AT = 1 << 20;

export class HumanLog {
  private buffer: string[] = [];
  private buffered = 0;
  /** Appends in flight, in order; the first failure is reported by the next flush. */
  private writing: Promise<void> = Promise.resolve();
  private failure: unknown;
  constructor(private readonly path: string | undefined) {}

  entry(at: Date, action: string, subject: string, details: [string, string | number | undefined][]): void {
    if (!this.path) return;
    const text = formatEntry(at, action, subject, details);
    this.buffer.push(text);
    this.buffered += text.length;
    // 100,000 jobs log ~50 MB in one cycle (SUBMIT_JOB, STATE_CHANGE): written as it comes, not held.
    if (this.buffered >= FLUSH_AT) this.append();
  }

  /** Appends what was logged since the last flush (one write per cycle, more when it is big). */
  async flush(): Promise<void> {
    this.append();
    await this.writing;
    if (this.failure !== undefined) {
      const e = this.failure;
      this.failure = undefined;
      throw e;
    }
  }

  private append(): void {
    if (!this.path || this.buffer.length === 0) return;
    const path = this.path;
    const text = this.buffer.join("");
    this.buffer = [];
    this.buffered = 0;
    this.writing = this.writing.then(() => appendFile(path, text)).catch((e: unknown) => {
      this.failure ??= e;
    });
  }
}
