import { type RunRecord, SCHEMA_VERSION, contentId } from "@slurmpipe/core";
import { drawValue } from "./axes.ts";
import { type FilterValue, matchesFilter } from "./filter.ts";
import type { Plan, Variant } from "./plan.ts";
import { createSampler } from "./sample.ts";
import { renderTemplate } from "./template.ts";
import { type Json, type Val, makeVal, valueText } from "./values.ts";

/** One point of the sweep before it becomes a record. */
export interface Combo {
  /** Position in the unfiltered sequence (0-based); `{index}` in templates. */
  index: number;
  variant: Variant;
  vals: Record<string, Val>;
  /** The run of a `for_each: group` stage stands for this group (`{group}`); a `sweep` one for all. */
  aggregate?: { scope: "group" | "sweep"; group?: string };
}

export const ID_LENGTH = 16;

/** Number of points before filters: variants x samples x grid. */
export function totalCombos(plan: Plan): number {
  const samples = plan.sample ? plan.sample.n : 1;
  return plan.factors.reduce((n, f) => n * f.length, plan.variants.length * samples);
}

/**
 * Enumerates the sweep lazily, in a fixed order: variants (file order), then sample points, then
 * grid axes in file order with the last axis changing fastest. Nothing is materialised, so a
 * million-run sweep streams in constant memory. The same sample points are used for every
 * variant, so variants are compared at the same hyperparameters.
 */
export function* combos(plan: Plan): Generator<Combo> {
  const sampler = plan.sample ? createSampler(plan.sample.method, plan.sampled.length, plan.sample.seed) : undefined;
  const samples = plan.sample ? plan.sample.n : 1;
  const factors = plan.factors;
  let index = 0;
  for (const variant of plan.variants) {
    const fixed: Record<string, Val> = {};
    for (const [k, v] of plan.base) fixed[k] = v;
    for (const [k, v] of variant.params) fixed[k] = v;
    for (let s = 0; s < samples; s++) {
      const point: Record<string, Val> = { ...fixed };
      if (sampler) {
        const u = sampler.point(s);
        plan.sampled.forEach((axis, d) => {
          const drawn = drawValue(axis.dist, u[d]!, axis.digits);
          point[axis.key] = axis.dist.kind === "choice" ? axis.dist.values[drawn.choice!]! : makeVal(drawn.value, axis.at);
        });
      }
      if (factors.some((f) => f.length === 0)) continue;
      const counters = new Array<number>(factors.length).fill(0);
      // Each factor's current values, fetched again only when its counter moves: a range makes
      // its value on demand, and the slow axes stay put for most combos.
      const current = factors.map((f) => f.columns.map((c) => c.at(0)));
      while (true) {
        const vals: Record<string, Val> = { ...point };
        for (let f = 0; f < factors.length; f++) {
          const keys = factors[f]!.keys;
          const row = current[f]!;
          for (let k = 0; k < keys.length; k++) vals[keys[k]!] = row[k]!;
        }
        yield { index: index++, variant, vals };
        let f = factors.length - 1;
        while (f >= 0 && ++counters[f]! === factors[f]!.length) {
          counters[f] = 0;
          current[f] = factors[f]!.columns.map((c) => c.at(0));
          f--;
        }
        if (f < 0) break;
        current[f] = factors[f]!.columns.map((c) => c.at(counters[f]!));
      }
    }
  }
}

const HYDRA_PLAIN = /^[A-Za-z0-9_\-/.+@%:]+$/;
const HYDRA_RETYPED = /^([-+]?(\d|\.\d)|true$|false$|null$|[-+]?inf$|nan$)/i;

/** A value as a Hydra override value: lists and dicts in Hydra syntax, awkward strings quoted. */
export function hydraValue(value: Json, spelled?: string): string {
  if (typeof value === "string") {
    if (HYDRA_PLAIN.test(value) && !HYDRA_RETYPED.test(value)) return value;
    // Inside quotes, escape the quote and any backslashes right before a quote or at the end.
    const body = value.replace(/(\\*)'/g, (_m, bs: string) => `${bs}${bs}\\'`).replace(/(\\+)$/, "$1$1");
    return `'${body}'`;
  }
  if (Array.isArray(value)) return `[${value.map((v) => hydraValue(v)).join(",")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${k}:${hydraValue(value[k]!)}`)
      .join(",")}}`;
  }
  return valueText(value, spelled);
}

/** Renders names, commands and records for the combos of one plan. */
export class RunBuilder {
  private readonly sortedKeys = new Map<Variant, string[]>();
  private readonly commandKeys: Set<string>;
  private readonly filtersUseName: boolean;

  constructor(readonly plan: Plan) {
    this.commandKeys = new Set((plan.command.words ?? []).flatMap((w) => w.keys));
    this.filtersUseName = [...plan.filters, ...plan.excludes].some((f) => f.value.conditions.some((c) => c.key === "name" || c.key === "group"));
  }

  private keysOf(c: Combo): string[] {
    let keys = this.sortedKeys.get(c.variant);
    if (!keys) {
      keys = Object.keys(c.vals).sort();
      this.sortedKeys.set(c.variant, keys);
    }
    return keys;
  }

  private lookup(c: Combo, key: string, how: "label" | "text", name?: string): string {
    if (key === "variant") return c.variant.name ?? "";
    if (key === "index") return String(c.index);
    if (key === "stage" && this.plan.stage && !(key in c.vals)) return this.plan.stage.name;
    if (key === "group" && c.aggregate && !(key in c.vals)) return c.aggregate.group ?? "";
    if (key === "name" && name !== undefined && !(key in c.vals)) return name;
    const v = c.vals[key]!;
    return how === "label" ? v.label! : v.text;
  }

  name(c: Combo): string {
    return renderTemplate(this.plan.name.value, (k) => this.lookup(c, k, "label"));
  }

  group(c: Combo): string | undefined {
    if (c.aggregate) return c.aggregate.group;
    if (this.plan.group) return renderTemplate(this.plan.group.value, (k) => this.lookup(c, k, "label"));
    return c.variant.name;
  }

  /** True when the combo passes every --filter and no --exclude. */
  keep(c: Combo): boolean {
    const { filters, excludes } = this.plan;
    if (filters.length === 0 && excludes.length === 0) return true;
    const name = this.filtersUseName ? this.name(c) : undefined;
    const get = (key: string): FilterValue | undefined => {
      if (key === "variant") return c.variant.name === undefined ? undefined : { value: c.variant.name };
      if (key === "index") return { value: c.index };
      if (key === "stage" && !(key in c.vals)) return this.plan.stage ? { value: this.plan.stage.name } : undefined;
      if (key === "name" && !(key in c.vals)) return { value: name ?? this.name(c) };
      if (key === "group" && !(key in c.vals)) {
        const g = this.group(c);
        return g === undefined ? undefined : { value: g };
      }
      const v = c.vals[key];
      return v ? { value: v.value, text: v.text } : undefined;
    };
    return filters.every((f) => matchesFilter(f.value, get)) && !excludes.some((f) => matchesFilter(f.value, get));
  }

  command(c: Combo, name: string): string[] | undefined {
    const { words, style, skip } = this.plan.command;
    if (!words) return undefined;
    const argv = words.map((w) => renderTemplate(w, (k) => this.lookup(c, k, "text", name)));
    if (style === "none") return argv;
    for (const key of this.keysOf(c)) {
      if (skip.has(key) || this.commandKeys.has(key)) continue;
      const v = c.vals[key]!;
      if (style === "hydra") argv.push(`${key}=${hydraValue(v.value, v.text)}`);
      else if (v.value !== null) {
        argv.push(`--${key}`);
        if (Array.isArray(v.value)) for (const item of v.value) argv.push(valueText(item));
        else argv.push(v.text);
      }
    }
    return argv;
  }

  /** A placeholder of the dir template whose value has no label (`..`, `/`, `日本`), if any. */
  unlabelledDirKey(c: Combo): string | undefined {
    for (const key of this.plan.dir?.value.keys ?? []) {
      if (key === "variant" || key === "index" || (key === "name" && !(key in c.vals)) || (key === "stage" && this.plan.stage)) continue;
      if (c.vals[key]?.label === undefined) return key;
    }
    return undefined;
  }

  dir(name: string, c: Combo): string | undefined {
    const t = this.plan.dir?.value;
    if (!t) return undefined;
    if (t.keys.length === 0) return `${t.text.replace(/\/+$/, "")}/${name}`;
    return renderTemplate(t, (k) => this.lookup(c, k, "label", name));
  }

  /** The run record; `name` may be passed when already rendered. */
  record(c: Combo, name = this.name(c)): RunRecord {
    const params: Record<string, Json> = {};
    for (const k of this.keysOf(c)) params[k] = c.vals[k]!.value;
    const command = this.command(c, name);
    const dir = this.dir(name, c);
    const variant = c.variant.name;
    const stage = this.plan.stage;
    // A stage's runs differ from the other stages' runs of the same parameters by the stage alone
    // when they share command and dir (an eval run reading the train run's directory).
    const content = { params, command: command ?? null, variant: variant ?? null, dir: dir ?? null, ...(stage ? { stage: stage.name } : {}), ...(c.aggregate ? { group: c.aggregate.group ?? null } : {}) };
    const id = contentId(content, ID_LENGTH);
    let resources = c.variant.resources ? { ...this.plan.resources, ...c.variant.resources } : this.plan.resources;
    if (stage?.resources) resources = { ...resources, ...stage.resources };
    const priority = stage?.priority ?? c.variant.priority ?? this.plan.priority;
    const rec: RunRecord = { kind: "run", v: SCHEMA_VERSION, id, name };
    if (stage) rec.stage = stage.name;
    const group = this.group(c);
    if (group !== undefined) rec.group = group;
    if (variant !== undefined) rec.variant = variant;
    rec.params = params;
    // What the sweep generated, kept when `params` is changed downstream (a suggested fix
    // applied with jq): core's paramChanges compares the two. Not part of the id.
    rec.sweep_params = { ...params };
    if (command) rec.command = command;
    if (resources) rec.resources = resources;
    if (priority !== undefined) rec.priority = priority;
    if (dir !== undefined) rec.dir = dir;
    if (this.plan.outputs) rec.outputs = this.plan.outputs;
    return rec;
  }
}
