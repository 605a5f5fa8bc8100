import { type ParsedState, parseState } from "@slurmpipe/core";
import { depTarget } from "./dependencies.ts";
import type { Item } from "./items.ts";
import type { Invocation } from "./invocation.ts";
import { DAY_MS, lookupByNames, rowForJob, windowStart } from "./lookup.ts";
import { jobOf } from "./records.ts";

/**
 * ONE batched lookup (squeue, then sacct for the rest) of the jobs whose state decides something:
 * runs that --resubmit may select, and jobs that runs to submit depend on. Sets `live` on items
 * and `ledgerLive` for ledger jobs; false when Slurm could not be asked.
 */
export async function lookupLiveStates(inv: Invocation, candidates: Item[]): Promise<boolean> {
  const isCandidate = new Set(candidates);
  const needJob = new Map<string, { name: string; id: string; submittedAt?: string; apply: (s: ParsedState) => void }>();
  const want = (key: string, job: Record<string, unknown> | undefined, apply: (s: ParsedState) => void) => {
    if (!job || typeof job.name !== "string" || typeof job.id !== "string") return;
    needJob.set(key, { name: job.name, id: job.id, ...(typeof job.submitted_at === "string" ? { submittedAt: job.submitted_at } : {}), apply });
  };
  for (const c of candidates) if (!c.live) want(`item:${c.runId}`, c.job, (st) => (c.live = st));
  for (const item of inv.items) {
    if (item.status !== "submit" && !isCandidate.has(item)) continue;
    for (const ref of item.dependsOn ?? []) {
      const t = depTarget(inv, ref);
      if ("item" in t && (t.item.status === "done" || t.item.status === "foreign") && !t.item.fresh) {
        const target = t.item;
        want(`item:${target.runId}`, target.job, (st) => (target.live = st));
      } else if ("entry" in t) {
        const e = t.entry;
        want(`ledger:${e.run_id}`, jobOf(e), (st) => inv.ledgerLive.set(e.run_id, st));
      }
    }
  }
  if (needJob.size === 0) return true;
  const jobs = [...needJob.values()];
  const times = jobs.map((j) => (j.submittedAt ? Date.parse(j.submittedAt) : Number.NaN)).filter((t) => !Number.isNaN(t));
  const sinceMs = windowStart(times.length > 0 ? times : [inv.clock.now() - 30 * DAY_MS]);
  try {
    const rows = await lookupByNames([...new Set(jobs.map((j) => j.name))], { client: inv.client, sinceMs });
    for (const j of jobs) {
      const row = rowForJob(rows.get(j.name), j.id);
      j.apply(row ? row.state : parseState("UNKNOWN"));
    }
  } catch (e) {
    // Without states nothing is resubmitted and dependencies stay unchecked (they are refused).
    inv.log.error(`could not look up job states (${(e as Error).message}); nothing is resubmitted this time`);
    if (candidates.length > 0) inv.summary.uncertain++;
    return false;
  }
  return true;
}
