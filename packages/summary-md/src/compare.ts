import { type Status, isFinished } from "./status.ts";
import type { Point } from "./svg/plot.ts";
import type { RunView } from "./view.ts";

/**
 * A sweep compared by configuration: the runs of a group that differ only in their seed are one
 * configuration; its seeds' loss curves become a mean with a min-max band, and its final loss a
 * mean ± std over the seeds. The best configuration is the one with the lowest mean final loss
 * among those whose every seed completed with a finite final loss (a diverged or failed seed
 * disqualifies it: its mean would hide the failure).
 */

/** Params that name a seed: `seed`, `data.seed`, `seed_model`, `random_seed`, ... (not `seedling`). */
export const isSeedParam = (key: string): boolean => /(^|[._])(random_)?seed([._]|$)/i.test(key);

export interface SeedRun {
  id: string;
  name: string;
  status: string;
  points: Point[];
  /** The last loss value of the run, when it is finite. */
  final?: number;
}

export interface Configuration {
  /** The varying params (without seeds) that tell this configuration from the others: `lr=0.1, wd=0`. */
  label: string;
  params: Record<string, unknown>;
  seeds: SeedRun[];
  /** Per step where every seed has a finite value (else any seed): mean, min and max over the seeds. */
  band: { step: number; mean: number; min: number; max: number }[];
  /** Over the seeds with a finite final loss. */
  final?: { mean: number; std?: number; min: number; max: number; n: number };
  /** Every seed COMPLETED with a finite final loss: it may be the best. */
  eligible: boolean;
  /** Why it is not eligible: `still running`, `a seed TIMEOUT`, `a seed's final loss is NaN/inf`. */
  why?: string;
  best: boolean;
}

export interface Comparison {
  configurations: Configuration[];
  /** The params that vary between configurations (the label's keys). */
  varying: string[];
}

function flat(params: Record<string, unknown> | undefined, prefix = "", out: Record<string, unknown> = {}): Record<string, unknown> {
  for (const [k, v] of Object.entries(params ?? {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === "object" && !Array.isArray(v)) flat(v as Record<string, unknown>, key, out);
    else out[key] = v;
  }
  return out;
}

const show = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v) ?? "null");

function finalOf(points: readonly Point[]): number | undefined {
  const last = [...points].sort((a, b) => a.step - b.step).at(-1);
  return last && last.value !== null && Number.isFinite(last.value) ? last.value : undefined;
}

function notEligible(seeds: readonly SeedRun[]): string | undefined {
  if (seeds.some((s) => !isFinished(s.status as Status))) return "seeds still running";
  const failed = [...new Set(seeds.filter((s) => s.status !== "COMPLETED").map((s) => s.status))];
  if (failed.length > 0) return `a seed ${failed.join(", ")}`;
  if (seeds.some((s) => s.final === undefined)) return "a seed's final loss is NaN/inf";
  return undefined;
}

/** The band of a configuration's seeds: steps all seeds share (any seed's, when they share none). */
export function seedBand(seeds: readonly SeedRun[]): Configuration["band"] {
  const byStep = new Map<number, number[]>();
  for (const s of seeds) for (const p of s.points) if (p.value !== null && Number.isFinite(p.value) && Number.isFinite(p.step)) byStep.set(p.step, [...(byStep.get(p.step) ?? []), p.value]);
  const withData = seeds.filter((s) => s.points.some((p) => p.value !== null && Number.isFinite(p.value))).length;
  const shared = [...byStep].filter(([, vs]) => vs.length === withData);
  const steps = shared.length > 1 ? shared : [...byStep];
  return steps
    .sort((a, b) => a[0] - b[0])
    .map(([step, vs]) => ({ step, mean: vs.reduce((a, b) => a + b, 0) / vs.length, min: Math.min(...vs), max: Math.max(...vs) }));
}

/** Mean, sample standard deviation (n - 1; none for one seed), min and max. */
export function summarize(values: readonly number[]): Configuration["final"] {
  if (values.length === 0) return undefined;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = values.length > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1)) : undefined;
  return { mean, ...(std !== undefined ? { std } : {}), min: Math.min(...values), max: Math.max(...values), n: values.length };
}

/**
 * The group's configurations, or undefined when there is nothing to compare: no configuration
 * with two seeds that have loss data (a plain grid without seeds is the overview's job).
 */
export function compareConfigurations(runs: readonly RunView[]): Comparison | undefined {
  const groups = new Map<string, { params: Record<string, unknown>; seeds: SeedRun[] }>();
  for (const view of runs) {
    const series = view.record?.report?.series?.loss;
    if (!series || series.length === 0) continue;
    const all = flat((view.record?.params ?? view.expected?.params) as Record<string, unknown> | undefined);
    const params = Object.fromEntries(Object.entries(all).filter(([k]) => !isSeedParam(k)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const key = JSON.stringify(params);
    const points = series.map((p) => ({ step: p.step, value: p.value }));
    const final = finalOf(points);
    const entry = groups.get(key) ?? { params, seeds: [] };
    entry.seeds.push({ id: view.id, name: view.name, status: view.status, points, ...(final !== undefined ? { final } : {}) });
    groups.set(key, entry);
  }
  if (![...groups.values()].some((g) => g.seeds.length >= 2)) return undefined;
  const keys = [...new Set([...groups.values()].flatMap((g) => Object.keys(g.params)))].sort();
  const varying = keys.filter((k) => new Set([...groups.values()].map((g) => show(g.params[k]))).size > 1);
  const configurations: Configuration[] = [...groups.values()].map((g) => {
    const finals = g.seeds.flatMap((s) => (s.final !== undefined ? [s.final] : []));
    const final = summarize(finals);
    const why = notEligible(g.seeds);
    return {
      label: varying.map((k) => `${k}=${g.params[k] === undefined ? "(none)" : show(g.params[k])}`).join(", ") || "(all runs)",
      params: g.params,
      seeds: g.seeds,
      band: seedBand(g.seeds),
      ...(final ? { final } : {}),
      eligible: why === undefined,
      ...(why ? { why } : {}),
      best: false,
    };
  });
  // Numeric order of the varying params (lr 0.01 before 0.1), then the label: stable across runs.
  configurations.sort((a, b) => {
    for (const k of varying) {
      const x = a.params[k];
      const y = b.params[k];
      if (typeof x === "number" && typeof y === "number" && x !== y) return x - y;
      if (show(x) !== show(y)) return show(x) < show(y) ? -1 : 1;
    }
    return 0;
  });
  const best = configurations.filter((c) => c.eligible && c.final).sort((a, b) => a.final!.mean - b.final!.mean)[0];
  if (best) best.best = true;
  return { configurations, varying };
}
