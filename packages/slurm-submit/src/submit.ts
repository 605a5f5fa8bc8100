import { tmpdir } from "node:os";
import { ScratchTexts, lockStateDir } from "@slurmpipe/core";
import { submissionOrder } from "./dependencies.ts";
import { readInput } from "./input.ts";
import { Invocation } from "./invocation.ts";
import { readLedgerView } from "./ledger-file.ts";
import { lookupLiveStates } from "./live-states.ts";
import type { SubmitOptions, SubmitSummary } from "./options.ts";
import { planResubmits, planRuns, resubmitCandidates } from "./plan.ts";
import { keepSubmittedScripts } from "./submitted-script.ts";
import { reconcileIntents } from "./reconcile.ts";
import { UnitSubmitter } from "./submit-unit.ts";
import { buildUnits } from "./units.ts";

export { STAGE } from "./records.ts";
export type { SubmitOptions, SubmitSummary } from "./options.ts";

/** Reads run records, submits each run exactly once, writes the records with their `job`. */
export async function submit(options: SubmitOptions): Promise<{ code: number; summary: SubmitSummary }> {
  const inv = new Invocation(options);
  const o = inv.o;
  const release = o.dryRun ? undefined : await lockStateDir(inv.stateDir, { waitMs: o.waitLockMs ?? 0, ...(o.lockStaleMs ? { staleMs: o.lockStaleMs } : {}) });
  if (release) inv.ledger.guard = release.assertHeld;
  try {
    if (!o.dryRun && (await inv.ledger.repairTorn())) {
      inv.log.warn(`${inv.ledger.path}: dropped a last line cut by a crash`);
    }
    const read = await readLedgerView(inv.ledger);
    if (read.tornLine) inv.log.warn(`${inv.ledger.path}:${read.tornLine}: ignoring a line cut by a crash`);
    inv.view = read.view;
    // The input's records wait in an unlinked scratch file. A dry run writes nothing to the state
    // directory (it may not exist): its scratch file goes to TMPDIR.
    const scratch = o.dryRun ? tmpdir() : inv.stateDir;
    inv.store = await ScratchTexts.open(scratch, "slurm-submit-records").catch((e: Error) => {
      inv.log.warn(`cannot create a scratch file in ${scratch} (${e.message}); keeping the input in memory`);
      return ScratchTexts.inMemory();
    });
    await readInput(inv);
    await planRuns(inv);
    await inv.writeOthers();
    await inv.emitWhere((i) => i.status === "pass" || i.status === "invalid");
    await reconcileIntents(inv);
    const candidates = resubmitCandidates(inv);
    if (await lookupLiveStates(inv, candidates)) await planResubmits(inv, candidates);
    keepSubmittedScripts(inv);
    await inv.emitWhere((i) => i.status !== "submit");
    await submitAll(inv);
  } finally {
    await inv.store?.close();
    await release?.();
  }
  const s = inv.summary;
  inv.log.done();
  inv.log.info(
    o.dryRun
      ? `dry run: ${s.dryRun} would be submitted, ${s.skipped} already submitted, ${s.failed} failed, nothing written`
      : `${s.submitted} submitted, ${s.resubmitted} resubmitted, ${s.reconciled} reconciled, ${s.skipped} already submitted, ${s.failed} failed` +
          (s.uncertain ? `, ${s.uncertain} uncertain (rerun to reconcile)` : "") +
          ` (${s.sbatchCalls} sbatch calls)`,
  );
  const code = s.failed > 0 || s.uncertain > 0 || s.badLines > 0 ? 1 : 0;
  return { code, summary: s };
}

/** Every planned run, by priority and after its dependencies; a dependency cycle is refused. */
async function submitAll(inv: Invocation): Promise<void> {
  const { ordered, cyclic } = submissionOrder(inv, buildUnits(inv));
  const submitter = new UnitSubmitter(inv);
  for (const u of cyclic) await submitter.fail(u, "dependency_cycle", "its dependencies form a cycle", false);
  let done = 0;
  for (const unit of ordered) {
    inv.log.progress(`submitting ${++done}/${ordered.length}: ${unit.items[0]!.name}`);
    await submitter.submit(unit);
  }
}
