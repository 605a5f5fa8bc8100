import type { AxisValues } from "./axis-values.ts";
import { type Filter, FilterSyntaxError, parseFilter } from "./filter.ts";
import type { Issues } from "./issues.ts";
import type { Resources } from "@slurmpipe/core";
import { type CommandPlan, DEFAULT_MAX_NAME_LENGTH, type Located, type SampledAxis, type SweepSettings } from "./plan.ts";
import type { SampleMethod } from "./sample.ts";
import { type Template, TemplateSyntaxError, parseTemplate } from "./template.ts";
import type { Val, Where } from "./values.ts";

// A sweep as read from the file and the flags, before the cross-checks that make it a Plan.

export const PARAM_KEY = /^(\+\+|\+|~)?[A-Za-z_][A-Za-z0-9_.-]*$/;

export type ListAxis = { kind: "list"; key: string; values: AxisValues; at: Where; fromFlag: boolean };

export type Axis = ListAxis | { kind: "sampled"; axis: SampledAxis; fromFlag: boolean };

/** How many runs a stage makes: one per run of the sweep, one per group, or one in all. */
export type StageScope = "run" | "group" | "sweep";

/** A stage as written under `stages:`; unset fields fall back to the sweep's. */
export interface StageDraft {
  name: string;
  at: Where;
  forEach: StageScope;
  dependsOn: Located<string>[];
  /** Where `depends_on` is written (for messages about the key as a whole). */
  dependsAt: Where;
  command?: CommandPlan;
  /** True when the stage has its own `args:` (else its command takes the sweep's style). */
  argsGiven?: boolean;
  params: Map<string, Val>;
  resources?: Resources;
  priority?: number;
  name_?: Located<Template>;
  dir?: Located<Template>;
  outputs?: string[];
  filters: Located<Filter>[];
  excludes: Located<Filter>[];
}

export interface Draft extends SweepSettings {
  base: Map<string, Val>;
  axes: Map<string, Axis>;
  zips: Located<string[]>[];
  name?: Located<Template>;
  sample: { n?: number; seed?: number; method?: SampleMethod; at: Where };
  stages: StageDraft[];
}

export function emptyDraft(source: string): Draft {
  return {
    base: new Map(),
    axes: new Map(),
    zips: [],
    variants: [],
    command: { style: "none", skip: new Set(), at: { source, path: "command" } },
    filters: [],
    excludes: [],
    sample: { at: { source, path: "sample" } },
    maxNameLength: DEFAULT_MAX_NAME_LENGTH,
    stages: [],
  };
}

export function template(text: string, at: Where, issues: Issues): Located<Template> | undefined {
  try {
    return { value: parseTemplate(text), at };
  } catch (e) {
    if (!(e instanceof TemplateSyntaxError)) throw e;
    issues.add(at, e.message);
    return undefined;
  }
}

export function filterAt(text: string, at: Where, issues: Issues): Located<Filter> | undefined {
  try {
    return { value: parseFilter(text), at };
  } catch (e) {
    if (!(e instanceof FilterSyntaxError)) throw e;
    issues.add(at, e.message);
    return undefined;
  }
}
