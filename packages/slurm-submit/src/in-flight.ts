import { SlurmCommandError, SlurmOutputError, backoffDelay } from "@slurmpipe/core";
import type { Invocation } from "./invocation.ts";
import type { Item } from "./items.ts";
import { countActive } from "./lookup.ts";

/**
 * --max-in-flight: waits while this state directory's pending+running tasks would exceed the
 * limit. ONE squeue call per check; between checks our own submissions are counted locally.
 * Without --max-in-flight, the site profile's per-user submit limit of the unit's partition
 * (slurm-render's script.site_limits, e.g. LUMI small-g: 210) is the limit: a sweep larger than
 * it is then paced instead of refused part way by slurmctld. An explicit --max-in-flight wins.
 */
export class InFlightLimit {
  private known = 0;
  private checked = false;
  private announced = new Set<string>();

  constructor(private readonly inv: Invocation) {}

  /** Our own submission of `tasks` jobs, counted until the next squeue. */
  add(tasks: number): void {
    this.known += tasks;
  }

  async waitForSlot(size: number, items: readonly Item[] = []): Promise<void> {
    const { o, clock, log } = this.inv;
    const max = o.maxInFlight ?? this.siteLimit(items);
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

  /** The smallest site submit limit among the unit's records (they share a partition), said once per limit. */
  private siteLimit(items: readonly Item[]): number | undefined {
    let best: Item | undefined;
    for (const item of items) if (item.siteSubmitLimit && (!best || item.siteSubmitLimit < best.siteSubmitLimit!)) best = item;
    if (!best) return undefined;
    const note = best.siteLimitNote ?? `${best.siteSubmitLimit} submitted jobs per user`;
    if (!this.announced.has(note) && this.announced.add(note)) {
      this.inv.log.info(`--max-in-flight ${best.siteSubmitLimit} by default (${note}); jobs of yours outside this state directory count against the site limit too`);
    }
    return best.siteSubmitLimit;
  }
}
