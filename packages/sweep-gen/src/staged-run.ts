import { RunRecord } from "@slurmpipe/core";
import { type Combo, RunBuilder, combos } from "./generate.ts";
import type { Issue } from "./issues.ts";
import { nameProblem } from "./names.ts";
import type { Plan, Variant } from "./plan.ts";
import { type StagePlan, commonScope } from "./stages.ts";
import type { Val } from "./values.ts";

// Generates a sweep with `stages:`. For each point of the sweep, the runs of every `for_each: run`
// stage in dependency order (each with `depends_on` the ids of the runs it waits for); then the
// runs of the `group` and `sweep` stages, which wait for whole groups and so come last. Only
// those collect ids: a sweep of run stages alone streams in constant memory.

interface Stage {
  sp: StagePlan;
  builder: RunBuilder;
  /** For a group/sweep stage: the implicit variant its runs share (one key order). */
  variant?: Variant;
}

function scopeKey(scope: "run" | "group" | "sweep", group: string | undefined): string {
  return scope === "sweep" ? "" : (group ?? "");
}

export class StagedSweep {
  private readonly stages: Stage[];
  private readonly runStages: Stage[];
  private readonly aggStages: Stage[];
  private readonly groupOf: RunBuilder;

  constructor(
    readonly plan: Plan,
    stagePlans: StagePlan[],
  ) {
    this.stages = stagePlans.map((sp) => ({ sp, builder: new RunBuilder(sp.plan), ...(sp.forEach === "run" ? {} : { variant: { params: new Map(), at: sp.at } }) }));
    this.runStages = this.stages.filter((s) => s.sp.forEach === "run");
    this.aggStages = this.stages.filter((s) => s.sp.forEach !== "run");
    this.groupOf = new RunBuilder(plan);
  }

  get runStageCount(): number {
    return this.runStages.length;
  }

  builders(): { plan: Plan; builder: RunBuilder }[] {
    return this.runStages.map((s) => ({ plan: s.sp.plan, builder: s.builder }));
  }

  private byName(name: string): Stage {
    return this.stages.find((s) => s.sp.name === name)!;
  }

  private comboFor(s: Stage, c: Combo): Combo {
    if (s.sp.params.size === 0) return c;
    const vals: Record<string, Val> = { ...c.vals };
    for (const [k, v] of s.sp.params) vals[k] = v;
    return { ...c, vals };
  }

  private filtered(): boolean {
    return this.runStages.some((s) => s.sp.plan.filters.length + s.sp.plan.excludes.length > 0);
  }

  /**
   * Walks the sweep once without making records: a run kept while a run it waits for is filtered
   * out, or a group stage left with nothing to wait for, is an issue. Returns the groups (in
   * order of first appearance) and the number of runs.
   */
  check(maxIssues = 10): { issues: Issue[]; groups: string[]; count: number } {
    const issues: Issue[] = [];
    const groups = new Map<string, true>();
    const waitedFor = new Map<string, Set<string>>(); // `${aggregate}\0${run stage}` -> scope keys with a run
    let count = 0;
    const filtered = this.filtered();
    // Names with {stage} differ between the stages of one point; a stage's own name may not.
    const sameNames = this.runStages.length > 1 && this.runStages.some((s) => !s.sp.plan.name.value.keys.includes("stage"));
    for (const c of combos(this.plan)) {
      const kept = new Map<Stage, Combo>();
      for (const s of this.runStages) {
        const sc = this.comboFor(s, c);
        if (!filtered || s.builder.keep(sc)) kept.set(s, sc);
      }
      if (kept.size === 0) continue;
      count += kept.size;
      if (sameNames && issues.length < maxIssues) {
        const seen = new Map<string, Stage>();
        for (const [s, sc] of kept) {
          const name = s.builder.name(sc);
          const other = seen.get(name);
          if (other) issues.push({ ...s.sp.plan.name.at, message: `stages ${other.sp.name} and ${s.sp.name} both name a run ${JSON.stringify(name)}: put {stage} in the name` });
          seen.set(name, s);
        }
      }
      const group = this.groupOf.group(c);
      groups.set(group ?? "", true);
      for (const [s, sc] of kept) {
        for (const dep of s.sp.dependsOn) {
          const d = this.byName(dep);
          if (d.sp.forEach !== "run" || kept.has(d) || issues.length >= maxIssues) continue;
          issues.push({ ...s.sp.dependsAt, message: `run ${s.builder.name(sc)} of stage ${s.sp.name} depends on the ${dep} run with the same parameters (${d.builder.name(this.comboFor(d, c))}), which the filters leave out: filter both stages alike` });
        }
      }
      for (const a of this.aggStages) {
        for (const dep of a.sp.dependsOn) {
          const d = this.byName(dep);
          if (d.sp.forEach !== "run" || !kept.has(d)) continue;
          const k = `${a.sp.name}\0${dep}`;
          if (!waitedFor.has(k)) waitedFor.set(k, new Set());
          waitedFor.get(k)!.add(scopeKey(a.sp.forEach, group));
        }
      }
    }
    for (const a of this.aggStages) {
      const keys = a.sp.forEach === "group" ? [...groups.keys()] : [""];
      count += keys.length;
      for (const key of keys) {
        const name = this.aggregateRecord(a, key).name;
        const problem = nameProblem(name, this.plan.maxNameLength);
        if (problem && issues.length < maxIssues) issues.push({ ...a.sp.plan.name.at, message: `${problem} (stage ${a.sp.name}${a.sp.forEach === "group" ? `, group ${JSON.stringify(key)}` : ""})` });
      }
      for (const dep of a.sp.dependsOn) {
        if (this.byName(dep).sp.forEach !== "run") continue;
        for (const key of keys) {
          if (waitedFor.get(`${a.sp.name}\0${dep}`)?.has(key) || issues.length >= maxIssues) continue;
          const what = a.sp.forEach === "group" ? ` for group ${JSON.stringify(key)}` : "";
          issues.push({ ...a.sp.dependsAt, message: `the run of stage ${a.sp.name}${what} depends on every ${dep} run${a.sp.forEach === "group" ? " of its group" : ""}, but the filters leave none` });
        }
      }
    }
    return { issues, groups: [...groups.keys()], count };
  }

  /** Writes every run (the caller checked first). */
  async generate(write: (line: string) => Promise<void>): Promise<void> {
    const collected = new Map<string, Map<string, string[]>>(); // `${aggregate}\0${run stage}` -> scope key -> ids
    const groups = new Map<string, true>();
    const aggIds = new Map<string, Map<string, string>>(); // aggregate stage -> scope key -> id
    const aggFor = (stage: Stage, key: string) => {
      let ids = aggIds.get(stage.sp.name);
      if (!ids) aggIds.set(stage.sp.name, (ids = new Map()));
      let id = ids.get(key);
      if (id === undefined) {
        id = this.aggregateRecord(stage, key).id;
        ids.set(key, id);
      }
      return id;
    };
    const filtered = this.filtered();
    for (const c of combos(this.plan)) {
      const ids = new Map<string, string>();
      let group: string | undefined;
      let anyKept = false;
      for (const s of this.runStages) {
        const sc = this.comboFor(s, c);
        if (filtered && !s.builder.keep(sc)) continue;
        if (!anyKept) {
          group = this.groupOf.group(c);
          groups.set(group ?? "", true);
          anyKept = true;
        }
        const rec = s.builder.record(sc);
        const deps: string[] = [];
        for (const dep of s.sp.dependsOn) {
          const d = this.byName(dep);
          if (d.sp.forEach === "run") {
            const id = ids.get(dep);
            // check() refuses such a sweep before anything is written.
            if (id === undefined) throw new Error(`${rec.name}: the ${dep} run it depends on was filtered out`);
            deps.push(id);
          } else deps.push(aggFor(d, scopeKey(d.sp.forEach, group)));
        }
        if (deps.length > 0) rec.depends_on = deps;
        ids.set(s.sp.name, rec.id);
        for (const a of this.aggStages) {
          if (!a.sp.dependsOn.includes(s.sp.name)) continue;
          const k = `${a.sp.name}\0${s.sp.name}`;
          let byKey = collected.get(k);
          if (!byKey) collected.set(k, (byKey = new Map()));
          const key = scopeKey(commonScope(a.sp.forEach, "run") as "group" | "sweep", group);
          const list = byKey.get(key);
          if (list) list.push(rec.id);
          else byKey.set(key, [rec.id]);
        }
        await write(JSON.stringify(rec));
      }
    }
    for (const a of this.aggStages) {
      for (const key of a.sp.forEach === "group" ? [...groups.keys()] : [""]) {
        const rec = this.aggregateRecord(a, key);
        const deps: string[] = [];
        for (const dep of a.sp.dependsOn) {
          const d = this.byName(dep);
          if (d.sp.forEach === "run") deps.push(...(collected.get(`${a.sp.name}\0${dep}`)?.get(key) ?? []));
          else if (d.sp.forEach === "group" && a.sp.forEach === "group") deps.push(aggFor(d, key));
          else for (const g of d.sp.forEach === "group" ? groups.keys() : [""]) deps.push(aggFor(d, g));
        }
        if (deps.length > 0) rec.depends_on = deps;
        RunRecord.parse(rec);
        await write(JSON.stringify(rec));
      }
    }
  }

  private aggregateRecord(s: Stage, key: string): RunRecord {
    const vals: Record<string, Val> = {};
    for (const [k, v] of s.sp.params) vals[k] = v;
    const scope = s.sp.forEach === "group" ? "group" : "sweep";
    const c: Combo = { index: 0, variant: s.variant!, vals, aggregate: scope === "group" ? { scope, group: key } : { scope } };
    return s.builder.record(c);
  }
}
