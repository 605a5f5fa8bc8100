import type { Resources } from "@slurmpipe/core";
import type { AxisValues } from "./axis-values.ts";
import type { Filter } from "./filter.ts";
import type { SampleMethod } from "./sample.ts";
import type { Template } from "./template.ts";
import type { Val, Where } from "./values.ts";

/** A grid dimension: one axis, or several zipped axes that advance together (`zip: [[lr, warmup]]`). */
export interface Factor {
  keys: string[];
  /** columns[k].at(i) is the value of keys[k] at position i (zipped axes share positions). */
  columns: AxisValues[];
  /** Number of positions (a zip group: its axes' common length). */
  length: number;
  at: Where;
}

export type Distribution =
  | { kind: "uniform" | "log_uniform"; lo: number; hi: number }
  | { kind: "int_uniform"; lo: number; hi: number }
  | { kind: "choice"; values: Val[] };

/** An axis drawn by the sampler instead of enumerated. */
export interface SampledAxis {
  key: string;
  dist: Distribution;
  /** Significant digits sampled floats are rounded to (the run gets exactly the value its name shows). */
  digits: number;
  at: Where;
}

export interface Variant {
  /** Undefined for the implicit single variant of a sweep without `variants:`. */
  name?: string;
  params: Map<string, Val>;
  priority?: number;
  resources?: Resources;
  at: Where;
}

export type ArgsStyle = "none" | "hydra" | "argparse";

export interface CommandPlan {
  /** One template per argv word; undefined when the sweep gives no command. */
  words?: Template[];
  style: ArgsStyle;
  /** Parameters never appended by the args style. */
  skip: Set<string>;
  at: Where;
}

export interface Located<T> {
  value: T;
  at: Where;
}

/** A sweep, checked and ready to enumerate lazily. */
/** What a sweep says about every run, the same before (Draft) and after (Plan) the cross-checks. */
export interface SweepSettings {
  variants: Variant[];
  group?: Located<Template>;
  dir?: Located<Template>;
  command: CommandPlan;
  resources?: Resources;
  priority?: number;
  outputs?: string[];
  filters: Located<Filter>[];
  excludes: Located<Filter>[];
  maxNameLength: number;
}

/** What a stage changes in the runs of a sweep with `stages:` (see stages.ts). */
export interface StageInfo {
  name: string;
  /** Merged over the top level's and the variant's: the stage knows its jobs best. */
  resources?: Resources;
  priority?: number;
}

export interface Plan extends SweepSettings {
  /** Set on the plan of one stage of a sweep with stages: `{stage}` and records' `stage`. */
  stage?: StageInfo;
  source: string;
  base: Map<string, Val>;
  factors: Factor[];
  sampled: SampledAxis[];
  sample?: { n: number; seed: number; method: SampleMethod };
  name: Located<Template>;
}

/** Placeholders every template may use besides parameter names. */
export const SPECIAL_KEYS = ["variant", "index"] as const;
export const DEFAULT_MAX_NAME_LENGTH = 100;
