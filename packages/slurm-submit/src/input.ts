import { ErrorCounter, InputError, RunRecord, type StringPool, readNdjsonInputs, zodField } from "@slurmpipe/core";
import { type Item, arrayInfo, resolveScript } from "./items.ts";
import type { Invocation } from "./invocation.ts";
import { fieldsOf } from "./record-text.ts";
import { STAGE } from "./records.ts";

/**
 * Reads everything first: priorities, dependencies and arrays need the whole input. Each record
 * goes to the record store as its JSON text (as validated, so it is written out exactly as
 * before); the item keeps the few fields planning needs.
 */
export async function readInput(inv: Invocation): Promise<void> {
  const o = inv.o;
  const errors = new ErrorCounter(STAGE, o.stderr ?? process.stderr);
  const pool = inv.pool;
  let index = 0;
  for await (const it of readNdjsonInputs<Record<string, unknown>>(o.inputs ?? [], {
    strict: o.strict ?? false,
    onError: errors.report,
    ...(o.stdin ? { stdin: o.stdin } : {}),
  })) {
    // Other record kinds (slurm-poll's events, archive entries) flow through untouched.
    if (typeof it.value.kind === "string" && it.value.kind !== "run") {
      inv.others.push(await inv.store.put(JSON.stringify(it.value)));
      continue;
    }
    const parsed = RunRecord.safeParse(it.value);
    if (!parsed.success) {
      const bad = { source: it.source, line: it.line, ...zodField(parsed.error) };
      if (o.strict) throw new InputError(bad);
      errors.report(bad);
      continue;
    }
    const rec = parsed.data;
    const ref = await inv.store.put(JSON.stringify(rec));
    const script = rec.script?.path ? pool.get(resolveScript(rec.script.path, inv.cwd)) : undefined;
    const array = script ? arrayInfo(rec, script, pool) : undefined;
    inv.items.push({
      at: ref.at,
      length: ref.length,
      fields: fieldsOf(rec),
      edits: undefined,
      source: pool.get(it.source),
      line: it.line,
      index: index++,
      runId: rec.id,
      name: rec.name,
      priority: rec.priority ?? 0,
      dependsOn: rec.depends_on?.length ? rec.depends_on : undefined,
      control: rec.control === true,
      scriptPath: rec.script?.path ? pool.get(rec.script.path) : undefined,
      scriptSha256: typeof rec.script?.sha256 === "string" && rec.script.sha256 ? pool.get(rec.script.sha256) : undefined,
      inputJobId: rec.job?.id,
      error: rec.error ? { stage: rec.error.stage, message: rec.error.message } : undefined,
      script,
      array,
      ...siteSubmitLimit(rec, pool),
      status: "pass",
      // Every field present from the start: one object shape for all 100,000 items.
      planned: undefined,
      fresh: undefined,
      locked: undefined,
      attempt: undefined,
      previousIds: undefined,
      job: undefined,
      live: undefined,
      emitted: undefined,
    });
  }
  inv.summary.badLines = errors.count;
}

/**
 * slurm-render's `script.site_limits`: the partition's per-user submit limit from the site profile,
 * which --max-in-flight defaults to (in-flight.ts); core's RunScript schema checks it is a whole number > 0.
 */
function siteSubmitLimit(rec: RunRecord, pool: StringPool): Pick<Item, "siteSubmitLimit" | "siteLimitNote"> {
  const limits = rec.script?.site_limits;
  const max = limits?.max_submit_jobs;
  if (max === undefined) return { siteSubmitLimit: undefined, siteLimitNote: undefined };
  const where = [limits?.profile && `profile ${String(limits.profile)}`, limits?.partition && `partition ${String(limits.partition)}`].filter(Boolean).join(", ");
  const source = typeof limits?.source === "string" ? `; ${limits.source}` : "";
  return { siteSubmitLimit: max, siteLimitNote: pool.get(`${where || "site profile"}: ${max} submitted jobs per user${source}`) };
}

