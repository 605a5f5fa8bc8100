import { hostname } from "node:os";
import { backoffDelay } from "@slurmpipe/core";
import { type Item, scriptOf } from "./items.ts";
import type { Invocation } from "./invocation.ts";
import { type IntentEntry, type NewEntry, RecordText } from "./ledger-view.ts";
import { type TagRow, lookupByNames, rowForJob, windowStart } from "./lookup.ts";
import { waitForOrphans } from "./orphans.ts";
import { edit, setOutputJob, withExtras } from "./records.ts";

/**
 * Runs whose latest ledger entry is an intent (a crash between intent and result): looked up by
 * their tag. Found: `reconciled`. Proven absent: `abandoned` and planned for submission under the
 * same tag. Slurm could not be asked: reported uncertain, the intent stays open.
 */
export async function reconcileIntents(inv: Invocation): Promise<void> {
  const pending = inv.items.filter((i) => i.status === "intent");
  if (pending.length === 0) return;
  if (inv.o.dryRun) {
    for (const i of pending) {
      i.status = "pass";
      edit(i, { set: { dry_run: true, planned: "reconcile" } });
      inv.log.info(`would reconcile ${i.name}: an earlier run crashed after deciding to submit it`);
      inv.summary.dryRun++;
    }
    await inv.emitAll(pending);
    return;
  }
  const intents = new Map<string, { entry: IntentEntry; items: Item[] }>();
  for (const item of pending) {
    const entry = inv.view.latest.get(item.runId) as IntentEntry;
    const group = intents.get(entry.job_name) ?? { entry, items: [] };
    group.items.push(item);
    intents.set(entry.job_name, group);
  }
  const tags = [...intents.keys()];
  const sinceMs = windowStart([...intents.values()].map((g) => Date.parse(g.entry.at)));
  let rows: Map<string, TagRow[]>;
  try {
    await waitForOrphans(
      [...intents.values()].map((g) => g.entry),
      { host: inv.o.host ?? hostname(), maxWaitMs: inv.o.orphanWaitMs ?? 180_000, clock: inv.clock, log: inv.log },
    );
    rows = await lookupByNames(tags, { client: inv.client, sinceMs });
    const now = inv.clock.now();
    const recent = tags.filter((t) => !rows.has(t) && now - Date.parse(intents.get(t)!.entry.at) < (inv.o.recentIntentMs ?? 60_000));
    if (recent.length > 0) {
      // A job created a moment ago can be missing for a few seconds (sacct lag, busy controller).
      await inv.clock.sleep(inv.o.confirmDelayMs ?? 3000);
      for (const [k, v] of await lookupByNames(recent, { client: inv.client, sinceMs })) rows.set(k, v);
    }
  } catch (e) {
    for (const [tag, group] of intents) {
      for (const item of group.items) inv.uncertain(item, "reconcile_failed", `an earlier submission was interrupted and job ${tag} could not be looked up (${(e as Error).message}); rerun to reconcile`);
    }
    return;
  }
  for (const [tag, group] of intents) {
    const found = rows.get(tag);
    if (found && found.length > 0) await recordFound(inv, group.items, group.entry, found);
    else {
      const at = inv.nowIso();
      const entries: NewEntry[] = group.items.map((item) =>
        withExtras({ t: "abandoned", run_id: item.runId, attempt: group.entry.attempt, at, reason: `no job named ${tag} in squeue or sacct after an interrupted submission` }, item),
      );
      await inv.append(entries);
      for (const item of group.items) {
        if (!item.script) inv.invalid(item, "no_script", `field "script.path": missing; the interrupted submission left no job and the record has no script to submit`);
        else inv.setSubmit(item, group.entry.attempt, "submit");
      }
    }
  }
}

/** After a failed sbatch: the job's rows by tag, [] if proven absent, "error" if Slurm could not say. */
export async function lookAfterFailure(inv: Invocation, jobName: string, intentMs: number, attempt: number): Promise<TagRow[] | "error"> {
  const sinceMs = windowStart([intentMs]);
  for (let look = 1; look <= 2; look++) {
    try {
      const rows = (await lookupByNames([jobName], { client: inv.client, sinceMs })).get(jobName) ?? [];
      if (rows.length > 0 || look === 2) return rows;
    } catch (e) {
      inv.log.warn(`lookup of ${jobName} failed: ${(e as Error).message}`);
      if (look === 2) return "error";
    }
    // The controller may still be working on the request the client gave up on: look once more.
    await inv.clock.sleep(Math.max(inv.o.confirmDelayMs ?? 3000, backoffDelay(attempt, inv.o.backoffMs ?? 2000, inv.o.maxBackoffMs ?? 60_000, inv.clock.random)));
  }
  return [];
}

/** Appends `reconciled` for the items of one tag and gives them their job. */
export async function recordFound(inv: Invocation, items: Item[], intent: IntentEntry, rows: TagRow[]): Promise<void> {
  const bases = [...new Set(rows.map((r) => r.baseId))].sort((a, b) => Number(a) - Number(b));
  if (bases.length > 1) inv.log.warn(`job name ${intent.job_name} matches jobs ${bases.join(", ")}; keeping the first, ${bases[0]}`);
  const base = bases[0]!;
  const mine = rows.filter((r) => r.baseId === base);
  const at = inv.nowIso();
  const submittedAt = mine.map((r) => r.submittedAt).find(Boolean) ?? intent.at;
  const via = mine.some((r) => r.source === "squeue") ? "squeue" : "sacct";
  for (const item of items) {
    const jobId = item.array ? `${base}_${item.array.index}` : base;
    const row = rowForJob(mine, jobId) ?? (item.array ? undefined : mine[0]);
    const job: Record<string, unknown> = {
      id: jobId,
      ...(item.array ? { array_job_id: base, array_task: item.array.index } : {}),
      ...(inv.cluster ? { cluster: inv.cluster } : {}),
      name: intent.job_name,
      submitted_at: submittedAt,
      argv: intent.argv,
      attempt: intent.attempt,
      backend: inv.client.backend ?? "slurm",
      reconciled_via: via,
    };
    setOutputJob(item, job);
    const record = new RecordText(await inv.text(item), job, item.name, scriptOf(item));
    inv.appender.add(withExtras({ t: "reconciled", run_id: item.runId, attempt: intent.attempt, job_id: jobId, job_name: intent.job_name, at, via, record }, item));
    inv.setDone(item, job);
    item.fresh = true;
    if (row) item.live = row.state;
    inv.summary.reconciled++;
    inv.log.debug(`reconciled ${item.name}: job ${jobId} found by its name in ${via}`);
  }
  await inv.appender.commit();
}
