import type { AxisValues } from "./axis-values.ts";
import { type Filter, FilterSyntaxError, parseFilter } from "./filter.ts";
import type { Issues } from "./issues.ts";
import { DEFAULT_MAX_NAME_LENGTH, type Located, type SampledAxis, type SweepSettings } from "./plan.ts";
import type { SampleMethod } from "./sample.ts";
import { type Template, TemplateSyntaxError, parseTemplate } from "./template.ts";
import type { Val, Where } from "./values.ts";

// A sweep as read from the file and the flags, before the cross-checks that make it a Plan.

export const PARAM_KEY = /^(\+\+|\+|~)?[A-Za-z_][A-Za-z0-9_.-]*$/;

export type ListAxis = { kind: "list"; key: string; values: AxisValues; at: Where; fromFlag: boolean };

export type Axis = ListAxis | { kind: "sampled"; axis: SampledAxis; fromFlag: boolean };

export interface Draft extends SweepSettings {
  base: Map<string, Val>;
  axes: Map<string, Axis>;
  zips: Located<string[]>[];
  name?: Located<Template>;
  sample: { n?: number; seed?: number; method?: SampleMethod; at: Where };
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
