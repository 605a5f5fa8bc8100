import { ErrorCounter, InputError, RunRecord, readNdjsonInputs, zodField } from "@slurmpipe/core";
import type { Invocation } from "./invocation.ts";
import { STAGE } from "./records.ts";

/** Reads everything first: priorities, dependencies and arrays need the whole input. */
export async function readInput(inv: Invocation): Promise<void> {
  const o = inv.o;
  const errors = new ErrorCounter(STAGE, o.stderr ?? process.stderr);
  let index = 0;
  for await (const it of readNdjsonInputs<Record<string, unknown>>(o.inputs ?? [], {
    strict: o.strict ?? false,
    onError: errors.report,
    ...(o.stdin ? { stdin: o.stdin } : {}),
  })) {
    // Other record kinds (slurm-poll's events, archive entries) flow through untouched.
    if (typeof it.value.kind === "string" && it.value.kind !== "run") {
      inv.others.push(it.value);
      continue;
    }
    const parsed = RunRecord.safeParse(it.value);
    if (!parsed.success) {
      const bad = { source: it.source, line: it.line, ...zodField(parsed.error) };
      if (o.strict) throw new InputError(bad);
      errors.report(bad);
      continue;
    }
    inv.items.push({ record: parsed.data, source: it.source, line: it.line, index: index++, runId: parsed.data.id, status: "pass" });
  }
  inv.summary.badLines = errors.count;
}
