import { UsageError } from "@slurmpipe/core";
import { type Draft, type ListAxis, emptyDraft } from "./draft.ts";
import { type FlagOverrides, applyFlags } from "./flags.ts";
import { firstDuplicate } from "./axis-values.ts";
import { Issues, formatIssue } from "./issues.ts";
import type { Factor, Located, Plan, Variant } from "./plan.ts";
import { type StagePlan, compileStages } from "./stages.ts";
import { type SweepFile, readFile } from "./read-file.ts";
import { type Template, parseTemplate } from "./template.ts";
import type { Val } from "./values.ts";

export type { FlagOverrides } from "./flags.ts";
export { type SweepFile, TOP_LEVEL_KEYS } from "./read-file.ts";

export interface CompiledSweep extends Plan {
  /** The stages, in dependency order (empty without `stages:`). */
  stages: StagePlan[];
  warnings: string[];
}

/** Turns a sweep file and/or flags into a checked plan; throws SweepError (exit 1) or UsageError (exit 2). */
export function compileSweep(file: SweepFile | undefined, flags: FlagOverrides = {}): CompiledSweep {
  const source = file?.source ?? "flags";
  const issues = new Issues();
  const draft = emptyDraft(source);
  if (file) readFile(file, issues, draft);
  issues.throwIfAny();
  applyFlags(flags, draft);
  const plan = finish(draft, source, issues);
  const stages = compileStages(plan, draft, issues);
  // Problems that only concern command-line flags are usage errors (exit 2).
  if (issues.list.length > 0 && issues.list.every((i) => i.source.startsWith("-"))) throw new UsageError(issues.list.map(formatIssue).join("\n"));
  issues.throwIfAny();
  return { ...plan, stages, warnings: issues.warnings };
}

function finish(d: Draft, source: string, issues: Issues): Plan {
  // Fixed parameters and axes must not overlap: which value would a run get?
  for (const [key, axis] of d.axes) {
    const at = axis.kind === "list" ? axis.at : axis.axis.at;
    const fixed = d.base.get(key);
    if (fixed && !axis.fromFlag) issues.add(at, `"${key}" is both a fixed parameter (params.${key}, line ${fixed.at.line}) and a grid axis`);
    for (const v of d.variants) {
      const set = v.params.get(key);
      if (set) issues.add(set.at, `variant ${v.name} sets "${key}", which is also a grid axis (${at.source}${at.line ? `:${at.line}` : ""}); make it a fixed parameter or drop it from the variant`);
    }
  }
  const factors = buildFactors(d, issues);
  const sampled = [...d.axes.values()].filter((a) => a.kind === "sampled").map((a) => a.axis);
  let sample: Plan["sample"];
  if (sampled.length > 0) {
    if (d.sample.n === undefined) issues.add(sampled[0]!.at, `"${sampled[0]!.key}" is a distribution: say how many points to draw with sample: {n: N} or --sample N`);
    else sample = { n: d.sample.n, seed: d.sample.seed ?? 0, method: d.sample.method ?? "random" };
  } else if (d.sample.n !== undefined) {
    issues.add(d.sample.at, "sampling needs at least one distribution axis (uniform, log_uniform, int_uniform or choice), e.g. grid: {lr: {log_uniform: [1e-5, 1e-1]}}");
  }
  const variants: Variant[] = d.variants.length > 0 ? d.variants : [{ params: new Map(), at: { source, path: "" } }];
  const named = d.variants.length > 0;
  const name = d.name ?? defaultName(d, named, source);
  const plan: Plan = {
    source,
    base: d.base,
    factors,
    sampled,
    sample,
    variants,
    name,
    group: d.group,
    dir: d.dir,
    command: d.command,
    resources: d.resources,
    priority: d.priority,
    outputs: d.outputs,
    filters: d.filters,
    excludes: d.excludes,
    maxNameLength: d.maxNameLength,
  };
  checkPlaceholders(plan, named, issues, d.stages.length > 0);
  return plan;
}

function buildFactors(d: Draft, issues: Issues): Factor[] {
  const zipOf = new Map<string, Located<string[]>>();
  for (const z of d.zips) {
    if (z.value.length < 2) issues.add(z.at, "a zip group needs at least two axes");
    for (const key of z.value) {
      const axis = d.axes.get(key);
      if (!axis) issues.add(z.at, `zip names "${key}", which is not a grid axis`);
      else if (axis.kind !== "list") issues.add(z.at, `"${key}" is a distribution; only listed axes can be zipped`);
      else if (zipOf.has(key)) issues.add(z.at, `"${key}" is already zipped in another group`);
      else zipOf.set(key, z);
    }
    const lengths = z.value.map((k) => d.axes.get(k)).filter((a): a is ListAxis => a?.kind === "list").map((a) => `${a.key}: ${a.values.length}`);
    if (new Set(lengths.map((l) => l.split(": ")[1])).size > 1) issues.add(z.at, `zipped axes must have the same length (${lengths.join(", ")})`);
  }
  const factors: Factor[] = [];
  const done = new Set<string>();
  for (const axis of d.axes.values()) {
    if (axis.kind !== "list" || done.has(axis.key)) continue;
    const z = zipOf.get(axis.key);
    const zipped = z?.value.map((k) => d.axes.get(k)).filter((a): a is ListAxis => a?.kind === "list");
    const members = zipped && zipped.length === z!.value.length ? zipped : [axis];
    for (const m of members) done.add(m.key);
    const length = members.reduce((n, m) => Math.min(n, m.values.length), Number.POSITIVE_INFINITY);
    factors.push({ keys: members.map((m) => m.key), columns: members.map((m) => m.values), length, at: z ? z.at : axis.at });
    for (const m of members) checkDistinct(m, issues);
  }
  return factors;
}

/** The same value twice in one axis would make two identical runs (ranges checked by arithmetic). */
function checkDistinct(axis: ListAxis, issues: Issues): void {
  const dup = firstDuplicate(axis.values);
  if (!dup) return;
  const { value: v, first } = dup;
  issues.add(v.at, `duplicate value ${v.text} in axis "${axis.key}"${first?.at.line ? ` (first on line ${first.at.line})` : ""}`);
}

function defaultName(d: Draft, named: boolean, source: string): Located<Template> {
  const parts: string[] = named ? ["{variant}"] : [];
  for (const axis of d.axes.values()) {
    const varies = axis.kind === "sampled" || axis.values.length > 1;
    if (varies && /^[A-Za-z_]/.test(axis.kind === "list" ? axis.key : axis.axis.key)) {
      const key = axis.kind === "list" ? axis.key : axis.axis.key;
      parts.push(`${key}{${key}}`);
    }
  }
  const text = parts.length ? parts.join("_") : "run";
  return { value: parseTemplate(text), at: { source, path: `name (default "${text}")` } };
}

/**
 * Values a key can take in a variant that may lack a label: for checking that templates only use
 * what exists. A range's values are numbers, which always have one, so only listed values count.
 */
function valuesOf(plan: Plan, v: Variant, key: string): Val[] | "sampled" | undefined {
  const f = plan.factors.find((x) => x.keys.includes(key));
  if (f) return f.columns[f.keys.indexOf(key)]!.listed;
  const s = plan.sampled.find((x) => x.key === key);
  if (s) return s.dist.kind === "choice" ? s.dist.values : "sampled";
  const fixed = v.params.get(key) ?? plan.base.get(key);
  return fixed ? [fixed] : undefined;
}

/** Every placeholder and filter key of a plan names something that exists (`staged`: `{stage}` may be used). */
export function checkPlaceholders(plan: Plan, named: boolean, issues: Issues, staged = plan.stage !== undefined): void {
  const check = (t: Located<Template> | undefined, what: string, extra: string[], needLabel: boolean) => {
    if (!t) return;
    for (const key of t.value.keys) {
      if (key === "index" || extra.includes(key) || (key === "stage" && staged)) continue;
      if (key === "variant") {
        if (!named) issues.add(t.at, `{variant} is used in ${what} but the sweep has no variants`);
        continue;
      }
      for (const v of plan.variants) {
        const vals = valuesOf(plan, v, key);
        if (vals === undefined) {
          issues.add(t.at, `{${key}} in ${what} is not a parameter${v.name ? ` of variant ${v.name}` : ""}`);
          break;
        }
        if (needLabel && vals !== "sampled") {
          for (const val of vals) {
            if (val.label === undefined) issues.add(val.at, `value ${val.text.slice(0, 60)} cannot be made safe for a run name (used by {${key}} in ${what}); give it a plain name, or leave {${key}} out of the name`);
          }
        }
      }
    }
  };
  check(plan.name, "the name", [], true);
  check(plan.group, "the group", [], true);
  check(plan.dir, "dir", ["name"], false);
  for (const w of plan.command.words ?? []) check({ value: w, at: plan.command.at }, "the command", ["name"], false);
  const known = new Set<string>(["variant", "index", "name", "group", ...(staged ? ["stage"] : [])]);
  for (const v of plan.variants) for (const k of v.params.keys()) known.add(k);
  for (const k of plan.base.keys()) known.add(k);
  for (const f of plan.factors) for (const k of f.keys) known.add(k);
  for (const s of plan.sampled) known.add(s.key);
  for (const f of [...plan.filters, ...plan.excludes]) {
    for (const c of f.value.conditions) {
      if (!known.has(c.key)) issues.add(f.at, `filter key "${c.key}" is not a parameter (known: ${[...known].sort().join(", ")})`);
    }
  }
}
