import type { Logger } from "@slurmpipe/core";
import { humanElapsed } from "./humanlog.ts";
import type { Registry } from "./registry.ts";

/** Category words of the summary line, in the order shown. */
const WORDS: [string, string][] = [
  ["pending", "pending"],
  ["blocked", "blocked"],
  ["active", "running"],
  ["success", "completed"],
  ["failure", "failed"],
  ["uncertain", "unknown"],
];

/**
 * What a watch says while it waits (issue #14 item 5): on a terminal, a one-line summary on stderr
 * (jobs by state category, time to the next cycle), redrawn in place every second through core's
 * logger progress line; off a terminal, with --progress D, the same summary as a plain stderr line
 * after a cycle, at most every D. Nothing otherwise (cron mail stays quiet).
 */
export class Progress {
  private timer: NodeJS.Timeout | undefined;
  private lastLineAt: number | undefined;

  constructor(
    private readonly o: { log: Logger; liveProgress?: boolean; progressMs?: number },
    private readonly registry: Registry,
    private readonly now: () => Date,
  ) {}

  /** A cycle that queried Slurm ended; the next one starts in `delayMs`. */
  cycleEnded(delayMs: number): void {
    this.stop();
    if (this.o.liveProgress) {
      const next = Date.now() + delayMs;
      const draw = () => this.o.log.progress(`${summaryLine(this.registry)} - next check in ${humanElapsed(Math.max(0, next - Date.now()) / 1000)}`);
      draw();
      this.timer = setInterval(draw, 1000);
      this.timer.unref();
      return;
    }
    if (this.o.progressMs === undefined) return;
    const at = this.now().getTime();
    if (this.lastLineAt !== undefined && at - this.lastLineAt < this.o.progressMs) return;
    this.lastLineAt = at;
    this.o.log.info(`${summaryLine(this.registry)} - next check in ${humanElapsed(delayMs / 1000)}`);
  }

  /** Ends the redraws and clears the live line. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.o.liveProgress) this.o.log.done();
  }
}

/** "5 jobs: 1 pending, 1 blocked, 2 running, 1 completed". */
export function summaryLine(registry: Registry): string {
  const counts = new Map<string, number>();
  for (const { track } of registry.runs()) {
    const c = track.state?.category ?? "not seen";
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  const parts = WORDS.filter(([c]) => counts.has(c)).map(([c, word]) => `${counts.get(c)} ${word}`);
  if (counts.has("not seen")) parts.push(`${counts.get("not seen")} not seen yet`);
  return `${registry.size} jobs: ${parts.join(", ") || "none"}`;
}
