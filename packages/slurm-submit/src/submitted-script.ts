import { type Item, locate } from "./items.ts";
import type { Invocation } from "./invocation.ts";
import { edit } from "./records.ts";

/**
 * A run already submitted comes out with the job it has. If its input record names another
 * script than the one that job was submitted with (the sweep was re-rendered since, and
 * slurm-render wrote the changed script beside the old one), the record would describe a job
 * running a script it does not run. It keeps the submitted script instead, and stderr says that
 * the new one was not submitted and how to submit it. Called just before such runs are written.
 */
export function keepSubmittedScripts(inv: Invocation): void {
  let changed = 0;
  let example: Item | undefined;
  for (const item of inv.items) {
    if (item.status !== "done" || item.fresh) continue;
    const entry = inv.view.lastJob.get(item.runId);
    const submitted = entry?.script;
    if (!entry || !submitted?.sha256 || !item.scriptSha256 || submitted.sha256 === item.scriptSha256) continue;
    edit(item, { set: { script: { ...(submitted.path ? { path: submitted.path } : {}), sha256: submitted.sha256 } } });
    changed++;
    example ??= item;
    inv.log.debug(`${locate(item)}: run ${item.name}: job ${entry.job_id} runs ${submitted.path ?? "an earlier script"}, not ${item.scriptPath}`);
  }
  if (changed > 0 && example) {
    const entry = inv.view.lastJob.get(example.runId)!;
    inv.log.warn(
      `${changed} run(s) already submitted were rendered again with a changed script (e.g. ${example.name}: job ${entry.job_id} runs ${entry.script?.path}, ` +
        `the input names ${example.scriptPath}); the new scripts were not submitted and the records keep the submitted ones. ` +
        "To run the new scripts, resubmit them (--resubmit all, or --resubmit-where ...) as a new attempt.",
    );
  }
}
