import { access } from "node:fs/promises";
import { hostname } from "node:os";
import { LockLostError, backoffDelay, shellQuoteForDisplay, taggedJobName } from "@slurmpipe/core";
import { dependencyFor } from "./dependencies.ts";
import { InFlightLimit } from "./in-flight.ts";
import { type Item, baseJobName, locate, readDirectives, scriptOf } from "./items.ts";
import type { Invocation } from "./invocation.ts";
import { type IntentEntry, RecordText } from "./ledger-view.ts";
import { clusterName } from "./lookup.ts";
import { Pacer } from "./pacer.ts";
import { lookAfterFailure, recordFound } from "./reconcile.ts";
import { edit, setError, setOutputJob, withExtras } from "./records.ts";
import { arrayOverride, runSbatch, sbatchArgs } from "./sbatch.ts";
import { scriptChangedMessage } from "./script-integrity.ts";
import type { Unit } from "./units.ts";

/**
 * Submits units one at a time: intent, paced sbatch, then `submitted`, `reconciled` (a failed
 * sbatch whose job exists anyway), a retry after backoff, or `failed`.
 */
export class UnitSubmitter {
  private readonly pacer: Pacer;
  private readonly inFlight: InFlightLimit;

  constructor(private readonly inv: Invocation) {
    this.pacer = new Pacer({ staggerMs: inv.o.staggerMs ?? 0, ...(inv.o.rate ? { rate: inv.o.rate } : {}) }, inv.clock);
    this.inFlight = new InFlightLimit(inv);
  }

  async submit(unit: Unit): Promise<void> {
    const { inv } = this;
    const { o, clock } = inv;
    const first = unit.items[0]!;
    const dep = dependencyFor(inv, unit);
    if (dep.error) return this.fail(unit, dep.error.code, dep.error.message, false);
    try {
      await access(unit.script);
    } catch {
      return this.fail(unit, "script_missing", `${locate(first)}: script ${unit.script} does not exist`, false);
    }
    const changed = await scriptChangedMessage(unit.script, unit.items);
    if (changed) return this.fail(unit, "script_changed", changed, false);
    const directives = await readDirectives(unit.script);
    const jobName = taggedJobName(baseJobName(first, directives), unit.array ? unit.array.key : first.runId, unit.attempt);
    const array = unit.array ? arrayOverride(unit.items.map((i) => i.array!.index), unit.array.spec ?? directives?.array) : undefined;
    const args = sbatchArgs({ jobName, script: unit.script, extra: o.sbatchArgs ?? [], ...(dep.dependency ? { dependency: dep.dependency } : {}), ...(array ? { array } : {}) });
    const argv = ["sbatch", ...args];
    if (o.dryRun) {
      inv.log.info(`would run (in ${unit.script.replace(/\/[^/]*$/, "") || "/"}): ${argv.map(shellQuoteForDisplay).join(" ")}`);
      for (const item of unit.items) {
        edit(item, { drop: ["job"], set: { dry_run: true, planned: item.planned ?? "submit", sbatch_argv: argv } });
        inv.summary.dryRun++;
        await inv.emit(item);
      }
      return;
    }
    await this.inFlight.waitForSlot(unit.items.length, unit.items);
    // Pace before the intent: its time is then when sbatch is called, so the ledger shows the
    // stagger, and a crash while waiting for the pacer leaves no intent to reconcile.
    await this.pacer.acquire();
    const host = o.host ?? hostname();
    const intentAt = inv.nowIso();
    const intent = (item: Item): IntentEntry =>
      withExtras({ t: "intent", run_id: item.runId, attempt: unit.attempt, job_name: jobName, at: intentAt, argv, name: item.name, host, pid: process.pid }, item) as IntentEntry;
    const intentEntry = intent(first);
    await inv.append(unit.items.map(intent));
    const attempts = Math.max(1, o.submitAttempts ?? 5);
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1) await this.pacer.acquire();
      // A pause long enough to lose the state lock (the intent above was written under it) must
      // not end in an sbatch that another process may be making too.
      inv.ledger.guard();
      inv.summary.sbatchCalls++;
      const out = await runSbatch(args, unit.script, inv.client);
      if (out.ok) {
        if (out.cluster) inv.cluster ??= out.cluster;
        return this.recordSubmitted(unit, jobName, argv, out.jobId, dep.dependency);
      }
      if (out.kind === "missing") {
        await this.abandon(unit, `sbatch could not be run: ${out.message}`);
        throw new Error(out.message);
      }
      if (out.kind === "permanent") return this.fail(unit, out.code, out.message, true);
      // Transient or unexplained: the job may exist anyway (slurm-facts §2.2). Look before retrying.
      inv.log.warn(`${first.name}: sbatch failed (${out.message}); looking for job ${jobName} before retrying`);
      const found = await lookAfterFailure(inv, jobName, Date.parse(intentAt), attempt);
      if (found === "error") {
        for (const item of unit.items) inv.uncertain(item, "submit_uncertain", `sbatch failed (${out.message}) and job ${jobName} could not be looked up; rerun to reconcile`);
        await inv.emitAll(unit.items);
        return;
      }
      if (found.length > 0) {
        await recordFound(inv, unit.items, intentEntry, found);
        await inv.emitAll(unit.items);
        return;
      }
      if (out.kind === "unknown") return this.fail(unit, out.code, out.message, true);
      if (attempt >= attempts) return this.fail(unit, out.code, `${out.message} (gave up after ${attempts} attempts; no job was created)`, true);
      const delay = backoffDelay(attempt, o.backoffMs ?? 2000, o.maxBackoffMs ?? 60_000, clock.random);
      inv.log.info(`${first.name}: no job was created; retrying sbatch in ${(delay / 1000).toFixed(1)} s (attempt ${attempt + 1}/${attempts})`);
      await clock.sleep(delay);
    }
  }

  /** Refuses a unit: an error record per run, and `failed` in the ledger when sbatch was asked. */
  async fail(unit: Unit, code: string, message: string, ledger: boolean): Promise<void> {
    const { inv } = this;
    const at = inv.nowIso();
    if (ledger) {
      await inv.append(unit.items.map((item) => withExtras({ t: "failed", run_id: item.runId, attempt: unit.attempt, at, message, code }, item)));
    }
    for (const item of unit.items) {
      item.status = "failed";
      setError(item, code, message, inv.clock.now());
      inv.summary.failed++;
    }
    inv.log.error(`${unit.items[0]!.name}${unit.items.length > 1 ? ` (+${unit.items.length - 1} array tasks)` : ""}: ${message}`);
    if (code === "qos_limit") inv.log.warn("the QOS or association submit limit is reached; --max-in-flight keeps a sweep under it");
    await inv.emitAll(unit.items);
  }

  private async recordSubmitted(unit: Unit, jobName: string, argv: string[], jobId: string, dependency?: string): Promise<void> {
    const { inv } = this;
    if (inv.cluster === null) inv.cluster = await clusterName(inv.client);
    const at = inv.nowIso();
    for (const item of unit.items) {
      const id = unit.array ? `${jobId}_${item.array!.index}` : jobId;
      const job: Record<string, unknown> = {
        id,
        ...(unit.array ? { array_job_id: jobId, array_task: item.array!.index } : {}),
        ...(inv.cluster ? { cluster: inv.cluster } : {}),
        name: jobName,
        submitted_at: at,
        argv,
        attempt: unit.attempt,
        backend: inv.client.backend ?? "slurm",
        ...(dependency ? { dependency } : {}),
        ...(item.previousIds ? { previous_ids: item.previousIds } : {}),
      };
      setOutputJob(item, job);
      // The line is built at once: a 1,000-task array never holds its records' text at the same time.
      const record = new RecordText(await inv.text(item), job, item.name, scriptOf(item));
      inv.appender.add(
        withExtras(
          { t: "submitted", run_id: item.runId, attempt: unit.attempt, job_id: id, job_name: jobName, at, ...(inv.cluster ? { cluster: inv.cluster } : {}), via: inv.client.backend === "local" ? "local" : "sbatch", record },
          item,
        ),
      );
      inv.setDone(item, job);
      item.fresh = true;
      if (item.planned === "resubmit") inv.summary.resubmitted++;
      else inv.summary.submitted++;
    }
    try {
      await inv.appender.commit();
    } catch (e) {
      if (!(e instanceof LockLostError)) throw e;
      // Not written, but never lost: the records (with their job) still go out, and the job is
      // named here; the process that holds the lock now finds it by its tag.
      inv.log.error(`job ${jobId} (${jobName}) was submitted but could not be written to the ledger: the state lock was lost`);
      await inv.emitAll(unit.items);
      throw e;
    }
    this.inFlight.add(unit.items.length);
    inv.log.debug(`submitted ${unit.items[0]!.name}${unit.items.length > 1 ? ` (+${unit.items.length - 1} tasks)` : ""} as job ${jobId}`);
    await inv.emitAll(unit.items);
  }

  /** The sbatch command itself could not be run: the intent is closed, nothing was created. */
  private async abandon(unit: Unit, reason: string): Promise<void> {
    const at = this.inv.nowIso();
    await this.inv.append(unit.items.map((item) => withExtras({ t: "abandoned", run_id: item.runId, attempt: unit.attempt, at, reason }, item)));
  }
}
