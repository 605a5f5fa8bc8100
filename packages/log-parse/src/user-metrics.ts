import { UsageError } from "@slurmpipe/core";
import type { Emit } from "./metrics.ts";
import { parseNumber } from "./numbers.ts";

/** A user pattern from `--metric 'name=<regex>'`: one capture group, or named groups `value` and `step`. */
export interface MetricPattern {
  name: string;
  re: RegExp;
}

export function parseMetricSpec(spec: string): MetricPattern {
  const eq = spec.indexOf("=");
  if (eq <= 0) throw new UsageError(`--metric: expected name=<regex>, got ${JSON.stringify(spec)}`);
  const name = spec.slice(0, eq).trim();
  const source = spec.slice(eq + 1);
  let re: RegExp;
  try {
    re = new RegExp(source);
  } catch (e) {
    throw new UsageError(`--metric ${name}: invalid regex: ${(e as Error).message}`);
  }
  const groups = new RegExp(`${source}|`).exec("")!.length - 1;
  if (groups < 1 || (groups > 1 && !/\(\?<value>/.test(source)))
    throw new UsageError(`--metric ${name}: the regex needs one capture group, or named groups (?<value>...) and optionally (?<step>...)`);
  return { name, re };
}

export function applyUserPatterns(text: string, patterns: readonly MetricPattern[], emit: Emit): void {
  for (const p of patterns) {
    const m = p.re.exec(text);
    if (!m) continue;
    const raw = m.groups?.value ?? m[1];
    if (raw === undefined) continue;
    const value = parseNumber(raw);
    if (value === undefined) continue;
    const stepRaw = m.groups?.step;
    const step = stepRaw !== undefined ? Number(stepRaw) : undefined;
    emit(p.name, step !== undefined && Number.isFinite(step) ? step : undefined, raw, value);
  }
}
