import { parseState } from "@slurmpipe/core";
import type { Item } from "./items.ts";
import type { Invocation } from "./invocation.ts";
import type { JobEntry } from "./ledger-view.ts";
import { orderUnits } from "./order.ts";
import type { Unit } from "./units.ts";

/** What a `depends_on` reference (run id or name) points at: a run of this input, a ledger job, or nothing. */
export type DepTarget = { item: Item } | { entry: JobEntry } | { missing: string };

export function depTarget(inv: Invocation, ref: string): DepTarget {
  const item = inv.byId.get(ref) ?? inv.byName.get(ref);
  if (item) return { item };
  const runId = inv.view.lastJob.has(ref) ? ref : inv.view.runByName.get(ref);
  const entry = runId ? inv.view.lastJob.get(runId) : undefined;
  return entry ? { entry } : { missing: ref };
}

/** Submission order: by priority, every unit after the units of this input it depends on. */
export function submissionOrder(inv: Invocation, units: readonly Unit[]): { ordered: Unit[]; cyclic: Unit[] } {
  const unitOf = new Map<Item, Unit>();
  for (const u of units) for (const i of u.items) unitOf.set(i, u);
  return orderUnits(units, (u) =>
    u.items.flatMap((i) =>
      (i.dependsOn ?? []).flatMap((ref) => {
        const t = depTarget(inv, ref);
        const dep = "item" in t ? unitOf.get(t.item) : undefined;
        return dep ? [dep] : [];
      }),
    ),
  );
}

/** `afterok:<ids>` for a unit, or why it must not be submitted. */
export function dependencyFor(inv: Invocation, unit: Unit): { dependency?: string; error?: { code: string; message: string } } {
  const ids = new Set<string>();
  for (const item of unit.items) {
    for (const ref of item.dependsOn ?? []) {
      const t = depTarget(inv, ref);
      if ("missing" in t) return { error: { code: "dependency_unknown", message: `depends on ${JSON.stringify(ref)}, which is neither in the input nor in ${inv.ledger.path}` } };
      const jobId = "item" in t ? (t.item.job?.id as string | undefined) : t.entry.job_id;
      const fresh = "item" in t ? Boolean(t.item.fresh) : false;
      const live = "item" in t ? t.item.live : inv.ledgerLive.get(t.entry.run_id);
      const label = "item" in t ? t.item.name : ref;
      if ("item" in t && unit.items.includes(t.item)) return { error: { code: "dependency_cycle", message: `depends on ${label}, which is part of the same submission` } };
      if (!jobId) {
        if (inv.o.dryRun && "item" in t && t.item.status === "submit") {
          ids.add(`<${label}>`);
          continue;
        }
        return { error: { code: "dependency_failed", message: `depends on ${label}, which has no job (${"item" in t && t.item.error ? t.item.error.message : "not submitted"})` } };
      }
      if (fresh && !live?.terminal) {
        ids.add(jobId); // created or found in this very run: its id is current
        continue;
      }
      const state = live ?? parseState("UNKNOWN");
      if (state.known && !state.terminal && state.category !== "uncertain") ids.add(jobId);
      else if (state.category === "success") continue; // already satisfied: no clause needed
      else if (state.category === "failure") return { error: { code: "dependency_failed", message: `depends on ${label}, whose job ${jobId} ended ${state.state}` } };
      else {
        // afterok on an id slurmctld forgot counts as satisfied (slurm-facts §7.4): never build on it.
        return { error: { code: "dependency_unknown", message: `depends on ${label}, whose job ${jobId} is unknown to squeue and sacct (forgotten, or the state could not be read); refusing afterok on a stale id` } };
      }
    }
  }
  return ids.size > 0 ? { dependency: `afterok:${[...ids].join(":")}` } : {};
}
