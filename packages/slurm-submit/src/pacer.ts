/**
 * Pacing between sbatch calls: a minimum gap (`--stagger`, the torchtune workflow's fix for
 * HuggingFace cache races) and a sliding-window rate (`--rate N/period`). Time is injected so tests
 * run instantly.
 */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
  random(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  random: Math.random,
};

export interface PacerOptions {
  staggerMs?: number;
  rate?: { count: number; periodMs: number };
}

export class Pacer {
  private readonly starts: number[] = [];
  private last: number | undefined;

  constructor(
    private readonly options: PacerOptions,
    private readonly clock: Clock,
  ) {}

  /** Waits until the next sbatch may start, then records its start. Returns the time waited. */
  async acquire(): Promise<number> {
    const begin = this.clock.now();
    for (;;) {
      const wait = this.delayNeeded(this.clock.now());
      if (wait <= 0) break;
      await this.clock.sleep(wait);
    }
    const now = this.clock.now();
    this.last = now;
    if (this.options.rate) {
      this.starts.push(now);
      const keep = this.options.rate.count;
      if (this.starts.length > keep) this.starts.splice(0, this.starts.length - keep);
    }
    return now - begin;
  }

  private delayNeeded(now: number): number {
    let wait = 0;
    const stagger = this.options.staggerMs ?? 0;
    if (stagger > 0 && this.last !== undefined) wait = Math.max(wait, this.last + stagger - now);
    const rate = this.options.rate;
    if (rate && this.starts.length >= rate.count) {
      // The oldest of the last `count` starts must be a full period ago.
      const oldest = this.starts[this.starts.length - rate.count]!;
      wait = Math.max(wait, oldest + rate.periodMs - now);
    }
    return wait;
  }
}

