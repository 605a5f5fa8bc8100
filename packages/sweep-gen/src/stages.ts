import { checkPlaceholders } from "./compile.ts";
import type { Draft, StageDraft, StageScope } from "./draft.ts";
import type { Issues } from "./issues.ts";
import type { Located, Plan } from "./plan.ts";
import { type Template, parseTemplate } from "./template.ts";
import type { Val, Where } from "./values.ts";

/**
 * One stage of a sweep with `stages:`, checked. A `run` stage is the sweep again with the stage's
 * changes (its own Plan, so names, dirs and filters are checked as for any sweep); a `group` or
 * `sweep` stage makes one run per group, or one in all, from its own command and params.
 */
export interface StagePlan {
  name: string;
  forEach: StageScope;
  /** The stages it waits for, in file order. */
  dependsOn: string[];
  dependsAt: Where;
  at: Where;
  /** The stage's own parameters (merged into `plan.base` for a run stage). */
  params: Map<string, Val>;
  plan: Plan;
}

const SCOPE_RANK: Record<StageScope, number> = { run: 0, group: 1, sweep: 2 };

/** The coarser of two scopes: what a run of one stage and the runs it waits for have in common. */
export function commonScope(a: StageScope, b: StageScope): StageScope {
  return SCOPE_RANK[a] >= SCOPE_RANK[b] ? a : b;
}

const STAGE_SUFFIX = "_{stage}";

/** The stages of a sweep in dependency order (file order otherwise); issues for unknown names and cycles. */
export function compileStages(base: Plan, d: Draft, issues: Issues): StagePlan[] {
  if (d.stages.length === 0) return [];
  const byName = new Map(d.stages.map((s) => [s.name, s]));
  let ok = true;
  for (const s of d.stages) {
    for (const dep of s.dependsOn) {
      if (!byName.has(dep.value)) {
        issues.add(dep.at, `unknown stage "${dep.value}" (stages: ${d.stages.map((x) => x.name).join(", ")})`);
        ok = false;
      }
    }
    for (const [key, v] of s.params) {
      if (d.axes.has(key)) issues.add(v.at, `stage ${s.name} sets "${key}", which is also a grid axis; make it a fixed parameter or drop it from the stage`);
      for (const variant of d.variants) {
        if (variant.params.has(key)) issues.add(v.at, `stage ${s.name} sets "${key}", which variant ${variant.name} sets too (which would win?)`);
      }
    }
  }
  if (!d.stages.some((s) => s.forEach === "run")) issues.add(d.stages[0]!.at, "every stage has for_each: group or sweep: at least one stage must run the sweep's runs (for_each: run, the default)");
  const order = ok ? topoOrder(d.stages, issues) : undefined;
  if (!order) return [];
  return order.map((s) => ({
    name: s.name,
    forEach: s.forEach,
    dependsOn: s.dependsOn.map((x) => x.value),
    dependsAt: s.dependsAt,
    at: s.at,
    params: s.params,
    plan: stagePlan(base, s, d.variants.length > 0, issues),
  }));
}

/** Kahn's order, file order among the ready ones; a cycle is an issue naming it. */
function topoOrder(stages: StageDraft[], issues: Issues): StageDraft[] | undefined {
  const done = new Set<string>();
  const out: StageDraft[] = [];
  while (out.length < stages.length) {
    const next = stages.find((s) => !done.has(s.name) && s.dependsOn.every((x) => done.has(x.value)));
    if (!next) {
      const left = stages.filter((s) => !done.has(s.name));
      const cycle = findCycle(left);
      const first = left.find((s) => s.name === cycle[0])!;
      issues.add(first.dependsAt, `stages depend on each other in a cycle: ${cycle.join(" -> ")} (no run could ever start)`);
      return undefined;
    }
    done.add(next.name);
    out.push(next);
  }
  return out;
}

function findCycle(left: StageDraft[]): string[] {
  const by = new Map(left.map((s) => [s.name, s]));
  let cur = left[0]!;
  const path: string[] = [];
  while (!path.includes(cur.name)) {
    path.push(cur.name);
    cur = by.get(cur.dependsOn.find((x) => by.has(x.value))!.value)!;
  }
  return [...path.slice(path.indexOf(cur.name)), cur.name];
}

function withStage(t: Located<Template>): Located<Template> {
  if (t.value.keys.includes("stage")) return t;
  return { value: parseTemplate(`${t.value.text}${STAGE_SUFFIX}`), at: t.at };
}

/** The Plan of one stage: the sweep with the stage's command, params, names, dirs and filters. */
function stagePlan(base: Plan, s: StageDraft, named: boolean, issues: Issues): Plan {
  const command = s.command ? { ...s.command, ...(s.argsGiven ? {} : { style: base.command.style, skip: base.command.skip }) } : s.forEach === "run" ? base.command : { style: base.command.style, skip: base.command.skip, at: s.at };
  const stage = { name: s.name, resources: s.resources, priority: s.priority };
  if (s.forEach !== "run") {
    const name = s.name_ ?? { value: parseTemplate(s.forEach === "group" ? "{group}_{stage}" : "{stage}"), at: s.at };
    const dir = s.dir ?? (base.dir && base.dir.value.keys.length === 0 ? { value: parseTemplate(`${base.dir.value.text.replace(/\/+$/, "")}/{name}`), at: base.dir.at } : undefined);
    const plan: Plan = { ...base, stage, base: new Map(s.params), factors: [], sampled: [], sample: undefined, command, name, dir, outputs: s.outputs, filters: [], excludes: [] };
    checkAggregatePlaceholders(plan, s, issues);
    return plan;
  }
  const merged = new Map(base.base);
  for (const [k, v] of s.params) merged.set(k, v);
  const plan: Plan = {
    ...base,
    stage,
    base: merged,
    command,
    name: s.name_ ? s.name_ : withStage(base.name),
    dir: s.dir ?? base.dir,
    outputs: s.outputs ?? base.outputs,
    filters: [...base.filters, ...s.filters],
    excludes: [...base.excludes, ...s.excludes],
  };
  // The stage's own templates and filters; the sweep's were checked already.
  const own: Plan = { ...plan, name: s.name_ ?? { value: parseTemplate(""), at: s.at }, group: undefined, dir: s.dir, filters: s.filters, excludes: s.excludes };
  if (!s.command) own.command = { ...command, words: [] };
  checkPlaceholders(own, named, issues, true);
  return plan;
}

/** A group or sweep stage's templates may use its own params, {group} (per group), {stage} and {name}. */
function checkAggregatePlaceholders(plan: Plan, s: StageDraft, issues: Issues): void {
  const allowed = new Set(["stage", ...plan.base.keys(), ...(s.forEach === "group" ? ["group"] : [])]);
  const check = (t: Located<Template> | undefined, what: string, withName: boolean) => {
    for (const key of t?.value.keys ?? []) {
      if (allowed.has(key) || (withName && key === "name")) continue;
      issues.add(t!.at, `{${key}} in ${what} of stage ${s.name} (for_each: ${s.forEach}) is not known: such a run has only {stage}${s.forEach === "group" ? ", {group}" : ""}, {name} and the stage's params`);
    }
  };
  check(plan.name, "the name", false);
  check(plan.dir, "dir", true);
  for (const w of plan.command.words ?? []) check({ value: w, at: plan.command.at }, "the command", true);
  if (s.forEach === "group" && !plan.name.value.keys.includes("group")) issues.add(plan.name.at, `the name of stage ${s.name} (for_each: group) must contain {group}, or the runs of two groups share a name`);
  if (s.filters.length + s.excludes.length > 0) issues.add(s.at, `stage ${s.name} (for_each: ${s.forEach}) makes no runs of the sweep to filter; filter the stages it depends on`);
}
