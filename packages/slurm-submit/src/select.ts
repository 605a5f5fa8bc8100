import { UsageError } from "@slurmpipe/core";

/**
 * Field selectors for `--only` and `--resubmit-where`: `PATH=VALUE[,VALUE...]` where PATH is a dot
 * path into the record (`name`, `params.lr`, `state.state`) and the record matches when the field,
 * printed as text, equals one of the values. `PATH!=VALUE...` negates. Several selectors: all must match.
 */
export interface Selector {
  path: string[];
  values: string[];
  negate: boolean;
  text: string;
}

export function parseSelector(text: string, option: string): Selector {
  const m = /^([A-Za-z_][\w.-]*?)(!?=)(.*)$/s.exec(text);
  if (!m) throw new UsageError(`--${option}: expected FIELD=VALUE (e.g. state.state=TIMEOUT or name=lr0.1), got ${JSON.stringify(text)}`);
  return { path: m[1]!.split("."), values: m[3]!.split(","), negate: m[2] === "!=", text };
}

export function getPath(record: unknown, path: readonly string[]): unknown {
  let v: unknown = record;
  for (const key of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

function asText(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  return typeof v === "string" ? v : typeof v === "object" ? JSON.stringify(v) : String(v);
}

export function matches(record: unknown, selectors: readonly Selector[]): boolean {
  return selectors.every((s) => {
    const value = asText(getPath(record, s.path));
    const hit = value !== undefined && s.values.includes(value);
    return s.negate ? !hit : hit;
  });
}

/** `--resubmit MODE`: `failed` (Slurm failure states), `all` (any finished job) or a list of states. */
export type ResubmitMode = { kind: "failed" } | { kind: "all" } | { kind: "states"; states: Set<string> };

export function parseResubmit(text: string): ResubmitMode {
  const t = text.trim();
  if (t === "failed") return { kind: "failed" };
  if (t === "all") return { kind: "all" };
  const states = t.split(",").map((s) => s.trim().toUpperCase()).filter(Boolean);
  if (states.length === 0 || states.some((s) => !/^[A-Z_]+$/.test(s))) {
    throw new UsageError(`--resubmit: expected failed, all or Slurm states like TIMEOUT,OUT_OF_MEMORY, got ${JSON.stringify(text)}`);
  }
  return { kind: "states", states: new Set(states) };
}
