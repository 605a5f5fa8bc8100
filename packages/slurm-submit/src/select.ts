import { JOB_STATES, UsageError } from "@slurmpipe/core";

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
  const words = t.split(",").map((s) => s.trim());
  const states = new Set<string>();
  for (const word of words) {
    const state = endedState(word);
    if (state === undefined) throw new UsageError(`--resubmit: ${JSON.stringify(word)} is not one of the accepted values: ${RESUBMIT_FORMS}`);
    states.add(state);
  }
  return { kind: "states", states };
}

/** States a job can end in (only an ended job is resubmitted), as squeue/sacct print them. */
const ENDED_STATES = Object.entries(JOB_STATES).filter(([, info]) => info.terminal);
const RESUBMIT_FORMS = `failed, all, or a comma-separated list of the states a job ends in (${ENDED_STATES.map(([long]) => long).join(", ")}; compact forms like TO, OOM too), e.g. TIMEOUT,OUT_OF_MEMORY`;

/** The long name of an end state given in long or compact form, any case; undefined for anything else. */
function endedState(word: string): string | undefined {
  const up = word.toUpperCase();
  const hit = ENDED_STATES.find(([long, info]) => long === up || info.compact === up);
  return hit?.[0];
}
