/**
 * Sample runs (`--sample`): which overrides a sample appends, whether they only reduce scope
 * (sample-scope.ts), and the sample's own identity.
 */
import { type RunRecord, contentId } from "@slurmpipe/core";
import { type Overrides, RunError } from "./plan.ts";
import type { Profile } from "./profile.ts";
import { overrideKey, sampleOverrideProblem } from "./sample-scope.ts";

/** The overrides a sample run appends: --sample-override, else the run's sample.overrides, else the profile's; checked. */
export function sampleOverridesOf(run: RunRecord, overrides: Overrides, profile: Profile): string[] {
  const list = overrides.sampleOverrides ?? runSampleOverrides(run) ?? profile.sample?.overrides ?? [];
  checkSampleOverrides(list, run);
  return list;
}

/**
 * The sample's own identity. Sharing the full run's id would give both jobs the same run-id tag, and
 * slurm-submit would then skip the full run as already done. The id depends on the full run and the
 * overrides only (16 hex digits, like sweep-gen's), so re-rendering the same sample gives the same
 * id. A record that already is a sample (`sample_of`) is a sample of that run again, not of itself.
 */
export function sampleIdentity(run: RunRecord, overrides: readonly string[]): { id: string; name: string; sampleOf: string } {
  const of = (run as Record<string, unknown>).sample_of;
  const base = typeof of === "string" && of !== "" && run.name.startsWith("sample-") ? { id: of, name: run.name.slice("sample-".length) } : { id: run.id, name: run.name };
  return { id: contentId({ sample_of: base.id, overrides }, 16), name: `sample-${base.name}`, sampleOf: base.id };
}

function runSampleOverrides(run: RunRecord): string[] | undefined {
  const sample = (run as Record<string, unknown>).sample;
  if (sample === undefined) return undefined;
  const list = (sample as { overrides?: unknown } | null)?.overrides;
  if (!Array.isArray(list) || !list.every((x) => typeof x === "string")) throw new RunError("expected {\"overrides\": [strings]}", "sample");
  return list;
}

/** Sample runs reduce scope only (sample-scope.ts): a scope setting may be overridden even when swept; anything else swept, and the model, optimizer or data, never. */
function checkSampleOverrides(list: string[], run: RunRecord): void {
  for (const item of list) {
    const key = overrideKey(item);
    if (!key) continue;
    const problem = sampleOverrideProblem(key, run.params ?? {});
    if (problem) {
      throw new RunError(
        `sample override ${JSON.stringify(item)} would change ${problem}; a sample run only reduces scope (steps, epochs, checkpointing, validation, logging frequency, dataset size limits)`,
        "sample.overrides",
      );
    }
  }
}
