import { constants } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { compareConfigurations } from "./compare.ts";
import { formatNumber, slug } from "./format.ts";
import { compareSvg } from "./svg/compare.ts";
import { type Curve, type LogMode, colorBySvg, overviewSvg, runPlotSvg } from "./svg/plot.ts";
import type { Grouped, RunView } from "./view.ts";

export interface PlotOptions {
  /** Directory the SVG files go to. */
  dir: string;
  /** Directory of the markdown file: links are relative to it. */
  linkBase: string;
  logY?: LogMode;
  colorBy?: string;
}

export interface PlotSet {
  /** Absolute path -> SVG text. */
  files: Map<string, string>;
  /** Run id -> link relative to the markdown. */
  runs: Map<string, string>;
  /** Group name -> overview links. */
  groups: Map<string, { overview: string; colorBy?: string; compare?: string }>;
}

export function curveOf(view: RunView): Curve | undefined {
  const series = view.record?.report?.series?.loss;
  if (!series || series.length === 0) return undefined;
  const loss = view.record?.report?.loss;
  const subtitle = [
    view.status,
    loss?.trend,
    loss?.last !== undefined ? `last ${formatNumber(loss.last)}` : undefined,
    loss?.min !== undefined && loss.min !== null ? `min ${formatNumber(loss.min)}` : undefined,
  ]
    .filter(Boolean)
    .join(" · ");
  return { name: view.name, status: view.status, subtitle, points: series.map((p) => ({ step: p.step, value: p.value })) };
}

/** Builds every SVG (in memory) and the links the markdown uses. Deterministic file names. */
export function buildPlots(groups: readonly Grouped[], options: PlotOptions): PlotSet {
  const set: PlotSet = { files: new Map(), runs: new Map(), groups: new Map() };
  const usedGroups = new Set<string>();
  const link = (path: string) => relative(options.linkBase, path).split(sep).join("/");
  const logY = options.logY ?? "auto";
  for (const group of groups) {
    const groupSlug = slug(group.name || "runs", usedGroups);
    const usedRuns = new Set<string>();
    const curves: (Curve & { value: unknown })[] = [];
    for (const view of group.runs) {
      const curve = curveOf(view);
      const panel: Curve = curve ?? { name: view.name, status: view.status, points: [] };
      curves.push({ ...panel, value: options.colorBy ? paramOf(view, options.colorBy) : undefined });
      if (!curve) continue;
      const file = join(options.dir, groupSlug, `${slug(view.name, usedRuns)}.svg`);
      set.files.set(file, runPlotSvg(curve, { logY }));
      set.runs.set(view.id, link(file));
    }
    if (!curves.some((c) => c.points.length > 0)) continue;
    const title = group.name ? `${group.name}: loss per run` : "Loss per run";
    const overview = join(options.dir, `overview-${groupSlug}.svg`);
    set.files.set(overview, overviewSvg(curves, { title, logY }));
    const links: { overview: string; colorBy?: string; compare?: string } = { overview: link(overview) };
    const comparison = compareConfigurations(group.runs);
    if (comparison) {
      const file = join(options.dir, `compare-${groupSlug}.svg`);
      set.files.set(file, compareSvg(comparison, { title: `${group.name ? `${group.name}: ` : ""}loss by configuration (seeds: mean, min-max band)`, logY }));
      links.compare = link(file);
    }
    if (options.colorBy) {
      const file = join(options.dir, `overview-${groupSlug}-by-${slug(options.colorBy)}.svg`);
      const t = `${group.name ? `${group.name}: ` : ""}loss by ${options.colorBy}`;
      set.files.set(file, colorBySvg(curves, { title: t, param: options.colorBy, logY }));
      links.colorBy = link(file);
    }
    set.groups.set(group.name, links);
  }
  return set;
}

/** A param by name, or a dotted path into params ("optimizer.lr"). */
export function paramOf(view: RunView, name: string): unknown {
  const params = (view.record?.params ?? view.expected?.params) as Record<string, unknown> | undefined;
  if (!params) return undefined;
  if (name in params) return params[name];
  let cur: unknown = params;
  for (const key of name.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/**
 * Writes the SVGs atomically, leaving files whose content did not change untouched (so a cron
 * job that regenerates the report every few minutes does not churn mtimes or sync clients).
 */
export async function writePlots(files: Map<string, string>, write: (path: string, text: string) => Promise<void>): Promise<number> {
  let written = 0;
  for (const [path, text] of files) {
    // O_NONBLOCK: a FIFO in a plot's place must not block the read; the write then refuses it.
    const old = await readFile(path, { encoding: "utf8", flag: constants.O_RDONLY | constants.O_NONBLOCK }).catch(() => undefined);
    if (old === text) continue;
    await mkdir(dirname(path), { recursive: true });
    await write(path, text);
    written += 1;
  }
  return written;
}
