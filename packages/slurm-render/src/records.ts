/** The output record of a rendered run: the input record, every field kept, plus what slurm-render resolved. */
import { RESOURCE_KEYS } from "./directives.ts";
import type { JobPlan } from "./resolve.ts";

/** The record as written: resolved resources (run-spec and CLI env/setup kept, so re-rendering gives the same script). */
export function outputRecord(raw: Record<string, unknown>, plan: JobPlan, script: Record<string, unknown>, logs: { stdout: string; stderr: string }): Record<string, unknown> {
  // The input object, not the parsed one, so every field keeps its place and value.
  return { ...raw, ...identity(plan), dir: plan.runDir, resources: outputResources(plan), script, logs };
}

/** A sample's own id and name, and `sample_of` linking it to the full run (nothing for a full run). */
export function identity(plan: JobPlan): Record<string, unknown> {
  return plan.sampleOf ? { id: plan.run.id, name: plan.run.name, sample_of: plan.sampleOf } : {};
}

export function outputResources(plan: JobPlan): Record<string, unknown> {
  const resources: Record<string, unknown> = {};
  for (const key of RESOURCE_KEYS) if (plan.resources[key] !== undefined) resources[key] = plan.resources[key];
  if (plan.extra.length > 0) resources.extra = plan.extra;
  if (Object.keys(plan.literalEnv).length > 0) resources.env = plan.literalEnv;
  if (plan.runSetup.length > 0) resources.setup = plan.runSetup;
  return resources;
}
