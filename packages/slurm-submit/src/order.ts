import { byPriority } from "./items.ts";

/**
 * Submission order: higher `priority` first, input order among equals, and every unit after the
 * units it depends on (their job ids must exist before `--dependency=afterok:` can name them).
 * Units in a dependency cycle are returned separately.
 */
export interface Orderable {
  priority: number;
  order: number;
}

export function orderUnits<U extends Orderable>(units: readonly U[], dependsOn: (u: U) => readonly U[]): { ordered: U[]; cyclic: U[] } {
  const indeg = new Map<U, number>();
  const dependents = new Map<U, U[]>();
  for (const u of units) indeg.set(u, 0);
  for (const u of units) {
    for (const d of new Set(dependsOn(u))) {
      if (d === u || !indeg.has(d)) continue;
      indeg.set(u, indeg.get(u)! + 1);
      dependents.set(d, [...(dependents.get(d) ?? []), u]);
    }
  }
  const heap = new Heap<U>(byPriority);
  for (const u of units) if (indeg.get(u) === 0) heap.push(u);
  const ordered: U[] = [];
  for (let u = heap.pop(); u !== undefined; u = heap.pop()) {
    ordered.push(u);
    for (const v of dependents.get(u) ?? []) {
      const n = indeg.get(v)! - 1;
      indeg.set(v, n);
      if (n === 0) heap.push(v);
    }
  }
  const done = new Set(ordered);
  return { ordered, cyclic: units.filter((u) => !done.has(u)) };
}

/** A binary min-heap by `less` (so 100,000 units order in n log n). */
class Heap<T> {
  private readonly a: T[] = [];
  constructor(private readonly cmp: (x: T, y: T) => number) {}
  push(v: T): void {
    const a = this.a;
    a.push(v);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.cmp(a[i]!, a[p]!) >= 0) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): T | undefined {
    const a = this.a;
    if (a.length === 0) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.cmp(a[l]!, a[m]!) < 0) m = l;
        if (r < a.length && this.cmp(a[r]!, a[m]!) < 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}
