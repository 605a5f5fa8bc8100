import { parseState } from "@slurmpipe/core";
import { type Item, locate, taggable } from "./items.ts";
import type { Invocation } from "./invocation.ts";
import { extras } from "./ledger-view.ts";
import { STAGE, edit, jobOf } from "./records.ts";
import { matches } from "./select.ts";

/**
 * Decides what happens to each run from its record and its latest ledger entry: pass it through,
 * print it with the job it has, reconcile an open intent, or submit it (attempt N).
 */
export async function planRuns(inv: Invocation): Promise<void> {
  const only = inv.o.only ?? [];
  for (const item of inv.items) {
    if (item.error && item.error.stage !== STAGE) {
      item.status = "pass"; // failed upstream: keep it flowing, untouched
      continue;
    }
    if (item.error) edit(item, { drop: ["error"] }); // our own error from an earlier run: try again
    if (inv.byId.has(item.runId)) {
      inv.invalid(item, "duplicate_run", `run id ${item.runId} appears twice (first at ${locate(inv.byId.get(item.runId)!)})`);
      continue;
    }
    inv.byId.set(item.runId, item);
    if (!inv.byName.has(item.name)) inv.byName.set(item.name, item);
    if (!taggable(item.runId)) {
      inv.invalid(item, "bad_run_id", `field "id": ${JSON.stringify(item.runId)} needs at least 10 letters or digits to tag the job`);
      continue;
    }
    const latest = inv.view.latest.get(item.runId);
    const lastJob = inv.view.lastJob.get(item.runId);
    if (only.length > 0 && !matches(await inv.record(item), only)) {
      item.locked = true;
      if (lastJob) inv.setDone(item, jobOf(lastJob));
      else item.status = "pass";
      continue;
    }
    if (latest?.t === "submitted" || latest?.t === "reconciled") {
      inv.setDone(item, jobOf(latest));
      continue;
    }
    if (!item.scriptPath) {
      if (latest?.t === "intent") {
        // The script path is needed only to resubmit; the open intent is reconciled by its tag.
      } else if (item.control) {
        item.status = "pass"; // a control run without a script has nothing to submit
        continue;
      } else {
        inv.invalid(item, "no_script", `field "script.path": missing; render the run first (slurm-render) or add script.path`);
        continue;
      }
    }
    if (latest?.t === "intent") {
      item.status = "intent";
      item.attempt = latest.attempt;
      const arrayId = extras(latest).array_id;
      if (arrayId && !item.array && latest) item.array = { key: arrayId, index: extras(latest).array_task ?? 0 };
    } else if (latest?.t === "abandoned") {
      inv.setSubmit(item, latest.attempt, "submit");
    } else if (latest?.t === "failed") {
      inv.setSubmit(item, (inv.view.maxAttempt.get(item.runId) ?? latest.attempt) + 1, "submit");
    } else if (item.inputJobId) {
      // Submitted by another pipeline or state directory: never submit it again unasked.
      item.status = "foreign";
      item.job = (await inv.record(item)).job as Record<string, unknown>;
      inv.log.warn(`${locate(item)}: run ${item.name} already carries job ${item.inputJobId} unknown to ${inv.stateDir}; not submitting it again (select it with --resubmit to do so)`);
    } else {
      inv.setSubmit(item, 1, "submit");
    }
  }
}

/** Runs that --resubmit or --resubmit-where may select: they have a job and --only did not lock them. */
export function resubmitCandidates(inv: Invocation): Item[] {
  const resubmitting = Boolean(inv.o.resubmit) || (inv.o.resubmitWhere?.length ?? 0) > 0;
  return resubmitting ? inv.items.filter((i) => (i.status === "done" || i.status === "foreign") && !i.locked) : [];
}

/** Plans the candidates whose job ended as selected (their `live` state is looked up) for attempt N+1. */
export async function planResubmits(inv: Invocation, candidates: Item[]): Promise<void> {
  const mode = inv.o.resubmit ?? (inv.o.resubmitWhere?.length ? { kind: "all" as const } : undefined);
  if (!mode) return;
  const where = inv.o.resubmitWhere ?? [];
  for (const item of candidates) {
    const live = item.live ?? parseState("UNKNOWN");
    if (live.known && !live.terminal) {
      if (mode.kind !== "failed") inv.log.info(`${item.name}: job ${String(item.job?.id)} is ${live.state}; not resubmitted (scancel it first)`);
      continue;
    }
    const hit =
      mode.kind === "failed" ? live.category === "failure" : mode.kind === "all" ? true : mode.states.has(live.state);
    if (!hit) continue;
    if (where.length > 0) {
      const record = await inv.record(item);
      const view = { ...record, job: item.job, state: { ...(record.state ?? {}), state: live.state, category: live.category, terminal: live.terminal } };
      if (!matches(view, where)) continue;
    }
    const prevAttempt = Math.max(inv.view.maxAttempt.get(item.runId) ?? 0, Number(item.job?.attempt ?? 1));
    item.previousIds = [...((item.job?.previous_ids as string[] | undefined) ?? []), String(item.job?.id)];
    inv.setSubmit(item, prevAttempt + 1, "resubmit");
    if (!item.script) inv.invalid(item, "no_script", `field "script.path": missing; cannot resubmit without a script`);
  }
}
