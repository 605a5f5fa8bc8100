import { access } from "node:fs/promises";
import { hostname } from "node:os";
import { resolve } from "node:path";
import {
  ErrorCounter,
  InputError,
  Ledger,
  type LedgerEntry,
  type Logger,
  NdjsonWriter,
  type ParsedState,
  RunRecord,
  type SlurmClientOptions,
  SlurmCommandError,
  lockStateDir,
  parseState,
  readNdjsonInputs,
  taggedJobName,
  zodField,
} from "@slurmpipe/core";
import { type Item, arrayInfo, baseJobName, locate, readDirectives, resolveScript, taggable } from "./items.ts";
import { type IntentEntry, type JobEntry, LedgerView, appendEntries, extras, repairTornLedger } from "./ledger-view.ts";
import { type TagRow, clusterName, countActive, lookupByNames, rowForJob } from "./lookup.ts";
import { orderUnits } from "./order.ts";
import { liveSbatchFor } from "./orphans.ts";
import { type Clock, Pacer, backoffDelay, systemClock } from "./pacer.ts";
import { arrayOverride, runSbatch, sbatchArgs } from "./sbatch.ts";
import { type ResubmitMode, type Selector, matches } from "./select.ts";

export const STAGE = "slurm-submit";
const DAY_MS = 86_400_000;

export interface SubmitOptions {
  /** Input files; none or "-" = stdin. */
  inputs?: string[];
  stdin?: AsyncIterable<Buffer | string>;
  stdout: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  log: Logger;
  cwd?: string;
  /** State directory; default `<cwd>/.slurmpipe`. */
  stateDir?: string;
  dryRun?: boolean;
  strict?: boolean;
  resubmit?: ResubmitMode;
  resubmitWhere?: Selector[];
  only?: Selector[];
  staggerMs?: number;
  rate?: { count: number; periodMs: number };
  maxInFlight?: number;
  /** How often to look again while --max-in-flight jobs are active. Default 20 s. */
  inFlightIntervalMs?: number;
  /** Extra sbatch options, placed before the script path. */
  sbatchArgs?: string[];
  client?: SlurmClientOptions;
  /** sbatch calls per run on transient failures (each after reconciling by tag). Default 5. */
  submitAttempts?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Wait this long for another process's lock (0 = refuse at once). */
  waitLockMs?: number;
  lockStaleMs?: number;
  /** An intent younger than this that is not found is looked up once more (sacct lags). Default 60 s. */
  recentIntentMs?: number;
  /** Pause before that second look. Default 3 s. */
  confirmDelayMs?: number;
  /** Longest wait for an orphaned sbatch of a killed run to end. Default 180 s. */
  orphanWaitMs?: number;
  clock?: Clock;
  host?: string;
}

export interface SubmitSummary {
  submitted: number;
  reconciled: number;
  skipped: number;
  resubmitted: number;
  failed: number;
  uncertain: number;
  passed: number;
  badLines: number;
  dryRun: number;
  sbatchCalls: number;
}

interface Unit {
  items: Item[];
  script: string;
  array?: NonNullable<Item["array"]>;
  attempt: number;
  priority: number;
  order: number;
}

type DepTarget = { item: Item } | { entry: JobEntry } | { missing: string };

/** Reads run records, submits each run exactly once, writes the records with their `job`. */
export async function submit(options: SubmitOptions): Promise<{ code: number; summary: SubmitSummary }> {
  const s = new Submitter(options);
  return s.run();
}

class Submitter {
  private readonly o: SubmitOptions;
  private readonly clock: Clock;
  private readonly client: SlurmClientOptions;
  private readonly writer: NdjsonWriter;
  private readonly log: Logger;
  private readonly cwd: string;
  private readonly stateDir: string;
  private readonly ledger: Ledger;
  private view = new LedgerView();
  private items: Item[] = [];
  private readonly others: Record<string, unknown>[] = [];
  private readonly byId = new Map<string, Item>();
  private readonly byName = new Map<string, Item>();
  /** Live Slurm state of jobs recorded in the ledger, by run id (for dependencies). */
  private readonly ledgerLive = new Map<string, ParsedState>();
  private readonly pacer: Pacer;
  private cluster: string | undefined | null = null;
  private inFlight = { known: 0, checked: false };
  readonly summary: SubmitSummary = {
    submitted: 0, reconciled: 0, skipped: 0, resubmitted: 0, failed: 0, uncertain: 0, passed: 0, badLines: 0, dryRun: 0, sbatchCalls: 0,
  };

  constructor(o: SubmitOptions) {
    this.o = o;
    this.clock = o.clock ?? systemClock;
    this.client = o.client ?? {};
    this.writer = new NdjsonWriter(o.stdout);
    this.log = o.log;
    this.cwd = o.cwd ?? process.cwd();
    this.stateDir = resolve(this.cwd, o.stateDir ?? ".slurmpipe");
    this.ledger = new Ledger(this.stateDir);
    this.pacer = new Pacer({ staggerMs: o.staggerMs ?? 0, ...(o.rate ? { rate: o.rate } : {}) }, this.clock);
  }

  async run(): Promise<{ code: number; summary: SubmitSummary }> {
    const release = this.o.dryRun
      ? undefined
      : await lockStateDir(this.stateDir, { waitMs: this.o.waitLockMs ?? 0, ...(this.o.lockStaleMs ? { staleMs: this.o.lockStaleMs } : {}) });
    try {
      if (!this.o.dryRun && (await repairTornLedger(this.ledger))) {
        this.log.warn(`${this.ledger.path}: dropped a last line cut by a crash`);
      }
      const read = await this.ledger.read();
      if (read.tornLine) this.log.warn(`${this.ledger.path}:${read.tornLine}: ignoring a line cut by a crash`);
      this.view = new LedgerView(read.entries);
      await this.readInput();
      this.classify();
      for (const other of this.others) await this.writer.write(other);
      await this.emitWhere((i) => i.status === "pass" || i.status === "invalid");
      await this.reconcileIntents();
      await this.lookupLiveStates();
      await this.emitWhere((i) => i.status !== "submit");
      await this.submitAll();
    } finally {
      await release?.();
    }
    const s = this.summary;
    this.log.done();
    this.log.info(
      this.o.dryRun
        ? `dry run: ${s.dryRun} would be submitted, ${s.skipped} already submitted, ${s.failed} failed, nothing written`
        : `${s.submitted} submitted, ${s.resubmitted} resubmitted, ${s.reconciled} reconciled, ${s.skipped} already submitted, ${s.failed} failed` +
            (s.uncertain ? `, ${s.uncertain} uncertain (rerun to reconcile)` : "") +
            ` (${s.sbatchCalls} sbatch calls)`,
    );
    const code = s.failed > 0 || s.uncertain > 0 || s.badLines > 0 ? 1 : 0;
    return { code, summary: s };
  }

  // ---- input -------------------------------------------------------------------------------

  /** Reads everything first: priorities, dependencies and arrays need the whole input. */
  private async readInput(): Promise<void> {
    const errors = new ErrorCounter(STAGE, this.o.stderr ?? process.stderr);
    let index = 0;
    for await (const it of readNdjsonInputs<Record<string, unknown>>(this.o.inputs ?? [], {
      strict: this.o.strict ?? false,
      onError: errors.report,
      ...(this.o.stdin ? { stdin: this.o.stdin } : {}),
    })) {
      // Other record kinds (slurm-poll's events, archive entries) flow through untouched.
      if (typeof it.value.kind === "string" && it.value.kind !== "run") {
        this.others.push(it.value);
        continue;
      }
      const parsed = RunRecord.safeParse(it.value);
      if (!parsed.success) {
        const bad = { source: it.source, line: it.line, ...zodField(parsed.error) };
        if (this.o.strict) throw new InputError(bad);
        errors.report(bad);
        continue;
      }
      this.items.push({ record: parsed.data, source: it.source, line: it.line, index: index++, runId: parsed.data.id, status: "pass" });
    }
    this.summary.badLines = errors.count;
  }

  private classify(): void {
    const only = this.o.only ?? [];
    for (const item of this.items) {
      const rec = item.record;
      if (rec.error && rec.error.stage !== STAGE) {
        item.status = "pass"; // failed upstream: keep it flowing, untouched
        continue;
      }
      if (rec.error) delete rec.error; // our own error from an earlier run: try again
      if (this.byId.has(item.runId)) {
        this.invalid(item, "duplicate_run", `run id ${item.runId} appears twice (first at ${locate(this.byId.get(item.runId)!)})`);
        continue;
      }
      this.byId.set(item.runId, item);
      if (!this.byName.has(rec.name)) this.byName.set(rec.name, item);
      if (!taggable(item.runId)) {
        this.invalid(item, "bad_run_id", `field "id": ${JSON.stringify(item.runId)} needs at least 10 letters or digits to tag the job`);
        continue;
      }
      if (rec.script?.path) {
        item.script = resolveScript(rec.script.path, this.cwd);
        const array = arrayInfo(rec, item.script);
        if (array) item.array = array;
      }
      const latest = this.view.latest.get(item.runId);
      const lastJob = this.view.lastJob.get(item.runId);
      if (only.length > 0 && !matches(rec, only)) {
        item.locked = true;
        if (lastJob) this.setDone(item, jobOf(lastJob));
        else item.status = "pass";
        continue;
      }
      if (latest?.t === "submitted" || latest?.t === "reconciled") {
        this.setDone(item, jobOf(latest));
        continue;
      }
      if (!rec.script?.path) {
        if (latest?.t === "intent") {
          // The script path is needed only to resubmit; the open intent is reconciled by its tag.
        } else if (rec.control) {
          item.status = "pass"; // a control run without a script has nothing to submit
          continue;
        } else {
          this.invalid(item, "no_script", `field "script.path": missing; render the run first (slurm-render) or add script.path`);
          continue;
        }
      }
      if (latest?.t === "intent") {
        item.status = "intent";
        item.attempt = latest.attempt;
        const arrayId = extras(latest).array_id;
        if (arrayId && !item.array && latest) item.array = { key: arrayId, index: extras(latest).array_task ?? 0 };
      } else if (latest?.t === "abandoned") {
        this.setSubmit(item, latest.attempt, "submit");
      } else if (latest?.t === "failed") {
        this.setSubmit(item, (this.view.maxAttempt.get(item.runId) ?? latest.attempt) + 1, "submit");
      } else if (rec.job?.id) {
        // Submitted by another pipeline or state directory: never submit it again unasked.
        item.status = "foreign";
        item.job = rec.job as Record<string, unknown>;
        this.log.warn(`${locate(item)}: run ${rec.name} already carries job ${rec.job.id} unknown to ${this.stateDir}; not submitting it again (select it with --resubmit to do so)`);
      } else {
        this.setSubmit(item, 1, "submit");
      }
    }
  }

  private setDone(item: Item, job: Record<string, unknown>): void {
    item.status = "done";
    item.job = job;
  }

  private setSubmit(item: Item, attempt: number, planned: "submit" | "resubmit"): void {
    item.status = "submit";
    item.attempt = attempt;
    item.planned = planned;
  }

  private invalid(item: Item, code: string, message: string): void {
    item.status = "invalid";
    item.record = withError(item.record, code, `${locate(item)}: ${message}`, this.clock.now());
    this.summary.failed++;
  }

  // ---- reconciliation of intents left by a crash --------------------------------------------

  private async reconcileIntents(): Promise<void> {
    const pending = this.items.filter((i) => i.status === "intent");
    if (pending.length === 0) return;
    if (this.o.dryRun) {
      for (const i of pending) {
        i.status = "pass";
        i.record = { ...i.record, dry_run: true, planned: "reconcile" } as RunRecord;
        this.log.info(`would reconcile ${i.record.name}: an earlier run crashed after deciding to submit it`);
        this.summary.dryRun++;
      }
      await this.emitAll(pending);
      return;
    }
    const intents = new Map<string, { entry: IntentEntry; items: Item[] }>();
    for (const item of pending) {
      const entry = this.view.latest.get(item.runId) as IntentEntry;
      const group = intents.get(entry.job_name) ?? { entry, items: [] };
      group.items.push(item);
      intents.set(entry.job_name, group);
    }
    const tags = [...intents.keys()];
    const sinceMs = minOf([...intents.values()].map((g) => Date.parse(g.entry.at))) - DAY_MS;
    let rows: Map<string, TagRow[]>;
    try {
      await this.waitForOrphans([...intents.values()].map((g) => g.entry));
      rows = await lookupByNames(tags, { client: this.client, sinceMs });
      const now = this.clock.now();
      const recent = tags.filter((t) => !rows.has(t) && now - Date.parse(intents.get(t)!.entry.at) < (this.o.recentIntentMs ?? 60_000));
      if (recent.length > 0) {
        // A job created a moment ago can be missing for a few seconds (sacct lag, busy controller).
        await this.clock.sleep(this.o.confirmDelayMs ?? 3000);
        for (const [k, v] of await lookupByNames(recent, { client: this.client, sinceMs })) rows.set(k, v);
      }
    } catch (e) {
      for (const [tag, group] of intents) {
        for (const item of group.items) this.uncertain(item, "reconcile_failed", `an earlier submission was interrupted and job ${tag} could not be looked up (${(e as Error).message}); rerun to reconcile`);
      }
      return;
    }
    for (const [tag, group] of intents) {
      const found = rows.get(tag);
      if (found && found.length > 0) await this.recordFound(group.items, group.entry, found);
      else {
        const at = new Date(this.clock.now()).toISOString();
        const entries: LedgerEntry[] = group.items.map((item) =>
          withExtras({ t: "abandoned", run_id: item.runId, attempt: group.entry.attempt, at, reason: `no job named ${tag} in squeue or sacct after an interrupted submission` }, item),
        );
        await appendEntries(this.ledger, entries, this.view);
        for (const item of group.items) {
          if (!item.script) this.invalid(item, "no_script", `field "script.path": missing; the interrupted submission left no job and the record has no script to submit`);
          else this.setSubmit(item, group.entry.attempt, "submit");
        }
      }
    }
  }

  /**
   * An sbatch started by a killed slurm-submit may still be running and create the job after we
   * looked. Wait for such processes (found by the tag in their argv) before looking.
   */
  private async waitForOrphans(intents: IntentEntry[]): Promise<void> {
    const me = this.o.host ?? hostname();
    const maxWait = this.o.orphanWaitMs ?? 180_000;
    const deadline = this.clock.now() + maxWait;
    const remote = intents.filter((e) => extras(e).host !== undefined && extras(e).host !== me);
    for (const e of remote) {
      // Written on another host: its sbatch cannot be seen from here; wait until it must be over.
      const until = Date.parse(e.at) + maxWait;
      if (until > this.clock.now()) {
        this.log.info(`intent for ${e.job_name} was written on ${extras(e).host}; waiting ${Math.ceil((until - this.clock.now()) / 1000)} s for its sbatch to finish`);
        await this.clock.sleep(until - this.clock.now());
      }
    }
    const tags = intents.filter((e) => !remote.includes(e)).map((e) => e.job_name);
    if (tags.length === 0) return;
    let warned = false;
    for (;;) {
      const live = await liveSbatchFor(tags);
      if (!live || live.size === 0) return;
      if (this.clock.now() >= deadline) {
        throw new Error(`sbatch for ${[...live.keys()].join(", ")} still running (pid ${[...live.values()].flat().join(", ")}) after ${maxWait / 1000} s; try again later`);
      }
      if (!warned) this.log.info(`waiting for ${live.size} sbatch process(es) left by an interrupted run`);
      warned = true;
      await this.clock.sleep(250);
    }
  }

  /** Appends `reconciled` for the items of one tag and gives them their job. */
  private async recordFound(items: Item[], intent: IntentEntry, rows: TagRow[]): Promise<void> {
    const bases = [...new Set(rows.map((r) => r.baseId))].sort((a, b) => Number(a) - Number(b));
    if (bases.length > 1) this.log.warn(`job name ${intent.job_name} matches jobs ${bases.join(", ")}; keeping the first, ${bases[0]}`);
    const base = bases[0]!;
    const mine = rows.filter((r) => r.baseId === base);
    const at = new Date(this.clock.now()).toISOString();
    const submittedAt = mine.map((r) => r.submittedAt).find(Boolean) ?? intent.at;
    const via = mine.some((r) => r.source === "squeue") ? "squeue" : "sacct";
    const entries: LedgerEntry[] = [];
    for (const item of items) {
      const jobId = item.array ? `${base}_${item.array.index}` : base;
      const row = rowForJob(mine, jobId) ?? (item.array ? undefined : mine[0]);
      const job: Record<string, unknown> = {
        id: jobId,
        ...(item.array ? { array_job_id: base, array_task: item.array.index } : {}),
        ...(this.cluster ? { cluster: this.cluster } : {}),
        name: intent.job_name,
        submitted_at: submittedAt,
        argv: intent.argv,
        attempt: intent.attempt,
        backend: this.client.backend ?? "slurm",
        reconciled_via: via,
      };
      const record = this.outputRecord(item, job);
      entries.push(withExtras({ t: "reconciled", run_id: item.runId, attempt: intent.attempt, job_id: jobId, job_name: intent.job_name, at, via, record }, item));
      this.setDone(item, job);
      item.record = record;
      item.fresh = true;
      if (row) item.live = row.state;
      this.summary.reconciled++;
      this.log.debug(`reconciled ${item.record.name}: job ${jobId} found by its name in ${via}`);
    }
    await appendEntries(this.ledger, entries, this.view);
  }

  private uncertain(item: Item, code: string, message: string): void {
    item.status = "uncertain";
    item.record = withError(item.record, code, message, this.clock.now());
    this.summary.uncertain++;
    this.log.error(`${item.record.name}: ${message}`);
  }

  // ---- live states: --resubmit candidates and dependencies -----------------------------------

  /**
   * ONE batched lookup (squeue, then sacct for the rest) of the jobs whose state decides something:
   * runs that --resubmit may select, and jobs that runs to submit depend on.
   */
  private async lookupLiveStates(): Promise<void> {
    const resubmitting = Boolean(this.o.resubmit) || (this.o.resubmitWhere?.length ?? 0) > 0;
    const candidates = resubmitting ? this.items.filter((i) => (i.status === "done" || i.status === "foreign") && !i.locked) : [];
    const isCandidate = new Set(candidates);
    const needJob = new Map<string, { name: string; id: string; submittedAt?: string; apply: (s: ParsedState) => void }>();
    const want = (key: string, job: Record<string, unknown> | undefined, apply: (s: ParsedState) => void) => {
      if (!job || typeof job.name !== "string" || typeof job.id !== "string") return;
      needJob.set(key, { name: job.name, id: job.id, ...(typeof job.submitted_at === "string" ? { submittedAt: job.submitted_at } : {}), apply });
    };
    for (const c of candidates) if (!c.live) want(`item:${c.runId}`, c.job, (st) => (c.live = st));
    for (const item of this.items) {
      if (item.status !== "submit" && !isCandidate.has(item)) continue;
      for (const ref of item.record.depends_on ?? []) {
        const t = this.depTarget(ref);
        if ("item" in t && (t.item.status === "done" || t.item.status === "foreign") && !t.item.fresh) {
          const target = t.item;
          want(`item:${target.runId}`, target.job, (st) => (target.live = st));
        } else if ("entry" in t) {
          const e = t.entry;
          want(`ledger:${e.run_id}`, jobOf(e), (st) => this.ledgerLive.set(e.run_id, st));
        }
      }
    }
    if (needJob.size === 0) {
      this.applyResubmit(candidates);
      return;
    }
    const jobs = [...needJob.values()];
    const times = jobs.map((j) => (j.submittedAt ? Date.parse(j.submittedAt) : Number.NaN)).filter((t) => !Number.isNaN(t));
    const sinceMs = (times.length > 0 ? minOf(times) : this.clock.now() - 30 * DAY_MS) - DAY_MS;
    try {
      const rows = await lookupByNames([...new Set(jobs.map((j) => j.name))], { client: this.client, sinceMs });
      for (const j of jobs) {
        const row = rowForJob(rows.get(j.name), j.id);
        j.apply(row ? row.state : parseState("UNKNOWN"));
      }
    } catch (e) {
      // Without states nothing is resubmitted and dependencies stay unchecked (they are refused).
      this.log.error(`could not look up job states (${(e as Error).message}); nothing is resubmitted this time`);
      if (candidates.length > 0) this.summary.uncertain++;
      return;
    }
    this.applyResubmit(candidates);
  }

  private applyResubmit(candidates: Item[]): void {
    const mode = this.o.resubmit ?? (this.o.resubmitWhere?.length ? { kind: "all" as const } : undefined);
    if (!mode) return;
    const where = this.o.resubmitWhere ?? [];
    for (const item of candidates) {
      const live = item.live ?? parseState("UNKNOWN");
      if (live.known && !live.terminal) {
        if (mode.kind !== "failed") this.log.info(`${item.record.name}: job ${String(item.job?.id)} is ${live.state}; not resubmitted (scancel it first)`);
        continue;
      }
      const hit =
        mode.kind === "failed" ? live.category === "failure" : mode.kind === "all" ? true : mode.states.has(live.state);
      if (!hit) continue;
      const view = { ...item.record, job: item.job, state: { ...(item.record.state ?? {}), state: live.state, category: live.category, terminal: live.terminal } };
      if (!matches(view, where)) continue;
      const prevAttempt = Math.max(this.view.maxAttempt.get(item.runId) ?? 0, Number(item.job?.attempt ?? 1));
      item.previousIds = [...((item.job?.previous_ids as string[] | undefined) ?? []), String(item.job?.id)];
      this.setSubmit(item, prevAttempt + 1, "resubmit");
      if (!item.script) this.invalid(item, "no_script", `field "script.path": missing; cannot resubmit without a script`);
    }
  }

  // ---- dependencies ---------------------------------------------------------------------------

  private depTarget(ref: string): DepTarget {
    const item = this.byId.get(ref) ?? this.byName.get(ref);
    if (item) return { item };
    const runId = this.view.lastJob.has(ref) ? ref : this.view.runByName.get(ref);
    const entry = runId ? this.view.lastJob.get(runId) : undefined;
    return entry ? { entry } : { missing: ref };
  }

  /** `afterok:<ids>` for a unit, or why it must not be submitted. */
  private dependencyFor(unit: Unit): { dependency?: string; error?: { code: string; message: string } } {
    const ids = new Set<string>();
    for (const item of unit.items) {
      for (const ref of item.record.depends_on ?? []) {
        const t = this.depTarget(ref);
        if ("missing" in t) return { error: { code: "dependency_unknown", message: `depends on ${JSON.stringify(ref)}, which is neither in the input nor in ${this.ledger.path}` } };
        const jobId = "item" in t ? (t.item.job?.id as string | undefined) : t.entry.job_id;
        const fresh = "item" in t ? Boolean(t.item.fresh) : false;
        const live = "item" in t ? t.item.live : this.ledgerLive.get(t.entry.run_id);
        const label = "item" in t ? t.item.record.name : ref;
        if ("item" in t && unit.items.includes(t.item)) return { error: { code: "dependency_cycle", message: `depends on ${label}, which is part of the same submission` } };
        if (!jobId) {
          if (this.o.dryRun && "item" in t && t.item.status === "submit") {
            ids.add(`<${label}>`);
            continue;
          }
          return { error: { code: "dependency_failed", message: `depends on ${label}, which has no job (${"item" in t && t.item.record.error ? t.item.record.error.message : "not submitted"})` } };
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

  // ---- submission -----------------------------------------------------------------------------

  private buildUnits(): Unit[] {
    const units: Unit[] = [];
    const arrays = new Map<string, Unit>();
    for (const item of this.items) {
      if (item.status !== "submit") continue;
      const priority = item.record.priority ?? 0;
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
    for (const u of arrays.values()) u.attempt = this.arrayAttempt(u);
    return units;
  }

  /**
   * Every array sbatch gets a tag of its own (array id + attempt), so a lookup by tag can never
   * mix two submissions; only a tag proven absent (abandoned) is used again.
   */
  private arrayAttempt(u: Unit): number {
    const max = this.view.maxArrayAttempt.get(u.array!.key) ?? 0;
    const latest = u.items.map((i) => this.view.latest.get(i.runId));
    const first = latest[0];
    if (first?.t === "abandoned" && first.attempt === max && latest.every((e) => e?.t === "abandoned" && e.attempt === max)) return max;
    return u.items.reduce((m, i) => Math.max(m, (i.attempt ?? 1) - 1), max) + 1;
  }

  private async submitAll(): Promise<void> {
    const units = this.buildUnits();
    const unitOf = new Map<Item, Unit>();
    for (const u of units) for (const i of u.items) unitOf.set(i, u);
    const { ordered, cyclic } = orderUnits(units, (u) =>
      u.items.flatMap((i) =>
        (i.record.depends_on ?? []).flatMap((ref) => {
          const t = this.depTarget(ref);
          const dep = "item" in t ? unitOf.get(t.item) : undefined;
          return dep ? [dep] : [];
        }),
      ),
    );
    for (const u of cyclic) await this.failUnit(u, "dependency_cycle", "its dependencies form a cycle", false);
    let done = 0;
    for (const unit of ordered) {
      this.log.progress(`submitting ${++done}/${ordered.length}: ${unit.items[0]!.record.name}`);
      await this.submitUnit(unit);
    }
  }

  private async submitUnit(unit: Unit): Promise<void> {
    const first = unit.items[0]!;
    const dep = this.dependencyFor(unit);
    if (dep.error) return this.failUnit(unit, dep.error.code, dep.error.message, false);
    try {
      await access(unit.script);
    } catch {
      return this.failUnit(unit, "script_missing", `${locate(first)}: script ${unit.script} does not exist`, false);
    }
    const directives = await readDirectives(unit.script);
    const jobName = taggedJobName(baseJobName(first, directives), unit.array ? unit.array.key : first.runId, unit.attempt);
    const array = unit.array ? arrayOverride(unit.items.map((i) => i.array!.index), unit.array.spec ?? directives?.array) : undefined;
    const args = sbatchArgs({ jobName, script: unit.script, extra: this.o.sbatchArgs ?? [], ...(dep.dependency ? { dependency: dep.dependency } : {}), ...(array ? { array } : {}) });
    const argv = ["sbatch", ...args];
    if (this.o.dryRun) {
      this.log.info(`would run (in ${unit.script.replace(/\/[^/]*$/, "") || "/"}): ${argv.join(" ")}`);
      for (const item of unit.items) {
        item.record = { ...item.record, dry_run: true, planned: item.planned ?? "submit", sbatch_argv: argv } as RunRecord;
        delete item.record.job;
        this.summary.dryRun++;
        await this.emit(item);
      }
      return;
    }
    await this.waitForSlot(unit.items.length);
    const host = this.o.host ?? hostname();
    const intentAt = new Date(this.clock.now()).toISOString();
    const intent = (item: Item): IntentEntry =>
      withExtras({ t: "intent", run_id: item.runId, attempt: unit.attempt, job_name: jobName, at: intentAt, argv, name: item.record.name, host, pid: process.pid }, item) as IntentEntry;
    const intentEntry = intent(first);
    await appendEntries(this.ledger, unit.items.map(intent), this.view);
    const attempts = Math.max(1, this.o.submitAttempts ?? 5);
    for (let attempt = 1; ; attempt++) {
      await this.pacer.acquire();
      this.summary.sbatchCalls++;
      const out = await runSbatch(args, unit.script, this.client);
      if (out.ok) {
        if (out.cluster) this.cluster ??= out.cluster;
        return this.recordSubmitted(unit, jobName, argv, out.jobId, dep.dependency);
      }
      if (out.kind === "missing") {
        await this.abandon(unit, `sbatch could not be run: ${out.message}`);
        throw new Error(out.message);
      }
      if (out.kind === "permanent") return this.failUnit(unit, out.code, out.message, true);
      // Transient or unexplained: the job may exist anyway (slurm-facts §2.2). Look before retrying.
      this.log.warn(`${first.record.name}: sbatch failed (${out.message}); looking for job ${jobName} before retrying`);
      const found = await this.lookAfterFailure(jobName, Date.parse(intentAt), attempt);
      if (found === "error") {
        for (const item of unit.items) this.uncertain(item, "submit_uncertain", `sbatch failed (${out.message}) and job ${jobName} could not be looked up; rerun to reconcile`);
        await this.emitAll(unit.items);
        return;
      }
      if (found.length > 0) {
        await this.recordFound(unit.items, intentEntry, found);
        await this.emitAll(unit.items);
        return;
      }
      if (out.kind === "unknown") return this.failUnit(unit, out.code, out.message, true);
      if (attempt >= attempts) return this.failUnit(unit, out.code, `${out.message} (gave up after ${attempts} attempts; no job was created)`, true);
      const delay = backoffDelay(attempt, this.o.backoffMs ?? 2000, this.o.maxBackoffMs ?? 60_000, this.clock.random);
      this.log.info(`${first.record.name}: no job was created; retrying sbatch in ${(delay / 1000).toFixed(1)} s (attempt ${attempt + 1}/${attempts})`);
      await this.clock.sleep(delay);
    }
  }

  /** After a failed sbatch: the job's rows by tag, [] if proven absent, "error" if Slurm could not say. */
  private async lookAfterFailure(jobName: string, intentMs: number, attempt: number): Promise<TagRow[] | "error"> {
    const sinceMs = intentMs - DAY_MS;
    for (let look = 1; look <= 2; look++) {
      try {
        const rows = (await lookupByNames([jobName], { client: this.client, sinceMs })).get(jobName) ?? [];
        if (rows.length > 0 || look === 2) return rows;
      } catch (e) {
        this.log.warn(`lookup of ${jobName} failed: ${(e as Error).message}`);
        if (look === 2) return "error";
      }
      // The controller may still be working on the request the client gave up on: look once more.
      await this.clock.sleep(Math.max(this.o.confirmDelayMs ?? 3000, backoffDelay(attempt, this.o.backoffMs ?? 2000, this.o.maxBackoffMs ?? 60_000, this.clock.random)));
    }
    return [];
  }

  private async recordSubmitted(unit: Unit, jobName: string, argv: string[], jobId: string, dependency?: string): Promise<void> {
    if (this.cluster === null) this.cluster = await clusterName(this.client);
    const at = new Date(this.clock.now()).toISOString();
    const entries: LedgerEntry[] = [];
    for (const item of unit.items) {
      const id = unit.array ? `${jobId}_${item.array!.index}` : jobId;
      const job: Record<string, unknown> = {
        id,
        ...(unit.array ? { array_job_id: jobId, array_task: item.array!.index } : {}),
        ...(this.cluster ? { cluster: this.cluster } : {}),
        name: jobName,
        submitted_at: at,
        argv,
        attempt: unit.attempt,
        backend: this.client.backend ?? "slurm",
        ...(dependency ? { dependency } : {}),
        ...(item.previousIds ? { previous_ids: item.previousIds } : {}),
      };
      const record = this.outputRecord(item, job);
      entries.push(
        withExtras(
          { t: "submitted", run_id: item.runId, attempt: unit.attempt, job_id: id, job_name: jobName, at, ...(this.cluster ? { cluster: this.cluster } : {}), via: this.client.backend === "local" ? "local" : "sbatch", record },
          item,
        ),
      );
      item.record = record;
      this.setDone(item, job);
      item.fresh = true;
      if (item.planned === "resubmit") this.summary.resubmitted++;
      else this.summary.submitted++;
    }
    await appendEntries(this.ledger, entries, this.view);
    this.inFlight.known += unit.items.length;
    this.log.debug(`submitted ${unit.items[0]!.record.name}${unit.items.length > 1 ? ` (+${unit.items.length - 1} tasks)` : ""} as job ${jobId}`);
    await this.emitAll(unit.items);
  }

  private async failUnit(unit: Unit, code: string, message: string, ledger: boolean): Promise<void> {
    const at = new Date(this.clock.now()).toISOString();
    if (ledger) {
      await appendEntries(
        this.ledger,
        unit.items.map((item) => withExtras({ t: "failed", run_id: item.runId, attempt: unit.attempt, at, message, code }, item)),
        this.view,
      );
    }
    for (const item of unit.items) {
      item.status = "failed";
      item.record = withError(item.record, code, message, this.clock.now());
      this.summary.failed++;
    }
    this.log.error(`${unit.items[0]!.record.name}${unit.items.length > 1 ? ` (+${unit.items.length - 1} array tasks)` : ""}: ${message}`);
    if (code === "qos_limit") this.log.warn("the QOS or association submit limit is reached; --max-in-flight keeps a sweep under it");
    await this.emitAll(unit.items);
  }

  private async abandon(unit: Unit, reason: string): Promise<void> {
    const at = new Date(this.clock.now()).toISOString();
    await appendEntries(
      this.ledger,
      unit.items.map((item) => withExtras({ t: "abandoned", run_id: item.runId, attempt: unit.attempt, at, reason }, item)),
      this.view,
    );
  }

  /**
   * --max-in-flight: waits while this state directory's pending+running tasks would exceed the
   * limit. ONE squeue call per check; between checks our own submissions are counted locally.
   */
  private async waitForSlot(size: number): Promise<void> {
    const max = this.o.maxInFlight;
    if (!max) return;
    const interval = this.o.inFlightIntervalMs ?? 20_000;
    let failures = 0;
    for (;;) {
      if (!this.inFlight.checked || this.inFlight.known + size > max) {
        try {
          this.inFlight.known = await countActive(this.view.jobNames, this.client);
          this.inFlight.checked = true;
          failures = 0;
        } catch (e) {
          if (!(e instanceof SlurmCommandError)) throw e;
          // Never assume zero because squeue failed: wait and ask again.
          failures++;
          this.log.warn(`squeue failed (${e.message}); waiting before counting jobs in flight again`);
          await this.clock.sleep(backoffDelay(failures, interval, 5 * interval, this.clock.random));
          continue;
        }
      }
      if (this.inFlight.known === 0 || this.inFlight.known + size <= max) return;
      this.log.progress(`${this.inFlight.known} jobs in flight (max ${max}); waiting`);
      await this.clock.sleep(interval);
      this.inFlight.checked = false;
    }
  }

  // ---- output ---------------------------------------------------------------------------------

  /** The record as emitted with a (new) job: an old job's state and report no longer apply. */
  private outputRecord(item: Item, job: Record<string, unknown>): RunRecord {
    const { state: _s, report: _r, error: _e, dry_run: _d, planned: _p, sbatch_argv: _a, ...rest } = item.record as RunRecord & Record<string, unknown>;
    const keepState = item.status === "done" && !item.fresh;
    return { ...rest, ...(keepState && _s ? { state: _s } : {}), ...(keepState && _r ? { report: _r } : {}), job } as RunRecord;
  }

  private async emit(item: Item): Promise<void> {
    if (item.emitted) return;
    item.emitted = true;
    let out: RunRecord = item.record;
    if ((item.status === "done" || item.status === "foreign") && !item.fresh) {
      out = { ...item.record, ...(item.job ? { job: item.job } : {}) } as RunRecord;
      this.summary.skipped++;
    }
    if (item.status === "pass") this.summary.passed++;
    await this.writer.write(out);
  }

  private async emitAll(items: Item[]): Promise<void> {
    for (const i of items) await this.emit(i);
  }

  private async emitWhere(pred: (i: Item) => boolean): Promise<void> {
    for (const i of this.items) if (pred(i)) await this.emit(i);
  }
}

function minOf(values: readonly number[]): number {
  return values.reduce((m, v) => Math.min(m, v), Number.POSITIVE_INFINITY);
}

function jobOf(e: JobEntry): Record<string, unknown> {
  const recorded = e.record?.job;
  if (recorded && typeof recorded === "object") return recorded as Record<string, unknown>;
  return { id: e.job_id, name: e.job_name, attempt: e.attempt, submitted_at: e.at, ...(e.cluster ? { cluster: e.cluster } : {}) };
}

function withError(record: RunRecord, code: string, message: string, now: number): RunRecord {
  return { ...record, error: { stage: STAGE, code, message, at: new Date(now).toISOString() } };
}

function withExtras<E extends LedgerEntry>(entry: E, item: Item): E {
  return item.array ? ({ ...entry, array_id: item.array.key, array_task: item.array.index } as E) : entry;
}
