import type { Item } from "./items.ts";
import type { Invocation } from "./invocation.ts";

/** One sbatch call: a single run, or the tasks of one array script submitted together. */
export interface Unit {
  items: Item[];
  script: string;
  array?: NonNullable<Item["array"]>;
  attempt: number;
  priority: number;
  order: number;
}

/** The runs planned for submission, grouped into sbatch calls (an array's priority is its highest task's). */
export function buildUnits(inv: Invocation): Unit[] {
  const units: Unit[] = [];
  const arrays = new Map<string, Unit>();
  for (const item of inv.items) {
    if (item.status !== "submit") continue;
    const priority = item.priority;
    if (!item.array) {
      units.push({ items: [item], script: item.script!, attempt: item.attempt ?? 1, priority, order: item.index });
      continue;
    }
    const key = `${item.array.key}\0${item.script}`;
    const unit = arrays.get(key);
    if (unit) {
      unit.items.push(item);
      unit.priority = Math.max(unit.priority, priority);
    } else {
      const u: Unit = { items: [item], script: item.script!, array: item.array, attempt: 1, priority, order: item.index };
      arrays.set(key, u);
      units.push(u);
    }
  }
  for (const u of arrays.values()) u.attempt = arrayAttempt(inv, u);
  return units;
}

/**
 * Every array sbatch gets a tag of its own (array id + attempt), so a lookup by tag can never
 * mix two submissions; only a tag proven absent (abandoned) is used again.
 */
function arrayAttempt(inv: Invocation, u: Unit): number {
  const max = inv.view.maxArrayAttempt.get(u.array!.key) ?? 0;
  const latest = u.items.map((i) => inv.view.latest.get(i.runId));
  const first = latest[0];
  if (first?.t === "abandoned" && first.attempt === max && latest.every((e) => e?.t === "abandoned" && e.attempt === max)) return max;
  return u.items.reduce((m, i) => Math.max(m, (i.attempt ?? 1) - 1), max) + 1;
}
