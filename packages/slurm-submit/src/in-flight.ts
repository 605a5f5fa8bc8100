import { SlurmCommandError, SlurmOutputError, backoffDelay } from "@slurmpipe/core";
import type { Invocation } from "./invocation.ts";
import { countActive } from "./lookup.ts";

/**
 * --max-in-flight: waits while this state directory's pending+running tasks would exceed the
 * limit. ONE squeue call per check; between checks our own submissions are counted locally.
 */
export class InFlightLimit {
  private known = 0;
  private checked = false;

  constructor(private readonly inv: Invocation) {}

  /** Our own submission of `tasks` jobs, counted until the next squeue. */
  add(tasks: number): void {
    this.known += tasks;
  }

  async waitForSlot(size: number): Promise<void> {
    const { o, clock, log } = this.inv;
    const max = o.maxInFlight;
    if (!max) return;
    const interval = o.inFlightIntervalMs ?? 20_000;
    let failures = 0;
    for (;;) {
      if (!this.checked || this.known + size > max) {
        try {
          this.known = await countActive(this.inv.view.jobNames, this.inv.client);
          this.checked = true;
          failures = 0;
        } catch (e) {
          if (!(e instanceof SlurmCommandError || e instanceof SlurmOutputError)) throw e;
          // Never assume zero because squeue failed: wait and ask again.
          failures++;
          log.warn(`squeue failed (${e.message}); waiting before counting jobs in flight again`);
          await clock.sleep(backoffDelay(failures, interval, 5 * interval, clock.random));
          continue;
        }
      }
      if (this.known === 0 || this.known + size <= max) return;
      log.progress(`${this.known} jobs in flight (max ${max}); waiting`);
      await clock.sleep(interval);
      this.checked = false;
    }
  }
}
