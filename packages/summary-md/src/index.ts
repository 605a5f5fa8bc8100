import { type FileHandle, readFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { ErrorCounter, type Logger, NdjsonWriter, type RunRecord, UsageError, createLogger, resolveNow } from "@slurmpipe/core";
import { slug } from "./format.ts";
import { buildPlots, curveOf, writePlots } from "./plots.ts";
import { collectInputs, readExpected } from "./records.ts";
import { replaceFile } from "./replace.ts";
import { buildReruns } from "./rerun.ts";
import { statusReportChunks } from "./report.ts";
import { sampleReport } from "./sample.ts";
import { type LogMode, runPlotSvg } from "./svg/plot.ts";
import { type FileTarget, Resolver, TargetError, checkWritable } from "./target.ts";
import { updateDocument } from "./update.ts";
import { YamlLayoutError, parseExperimentYaml, updateYamlDocument } from "./update-yaml.ts";
import { type RunView, buildViews, groupViews } from "./view.ts";

export { buildViews, groupViews, type RunView } from "./view.ts";
export { deriveStatus, STATUSES, type Status } from "./status.ts";
export { mergeRun, collectInputs } from "./records.ts";
export { statusReport } from "./report.ts";
export { buildReruns, rerunAction } from "./rerun.ts";
export { updateDocument, findTables, parseRow } from "./update.ts";
export { updateYamlDocument } from "./update-yaml.ts";
export { sampleReport, verdict, extrapolate, fullStepsOf } from "./sample.ts";
export { runPlotSvg, overviewSvg, colorBySvg } from "./svg/plot.ts";
export { buildPlots } from "./plots.ts";
export { codeSpan, mdText, mdCell } from "./format.ts";
export { replaceFile, writeTarget, type FileData } from "./replace.ts";
export { Resolver, TargetError, checkWritable, type FileTarget } from "./target.ts";

export const NAME = "summary-md";

export interface SummaryOptions {
  /** NDJSON inputs; empty or "-" means stdin. */
  inputs: string[];
  /** Write the markdown here (atomically) instead of stdout. */
  output?: string;
  /** sweep-gen output: the full set of expected runs. */
  expected?: string;
  /** Rewrite the status table(s) of this markdown document in place. */
  update?: string;
  sample?: boolean;
  fullSteps?: number;
  margin?: number;
  /** Plot directory; false: no plots. Undefined: the default for the mode. */
  plots?: string | false;
  colorBy?: string;
  logY?: LogMode;
  /** Report time: ISO 8601 or Unix seconds. Else SOURCE_DATE_EPOCH, else the clock. */
  now?: string;
  title?: string;
  profile?: string;
  strict?: boolean;
}

export interface SummaryIo {
  stdin?: AsyncIterable<Buffer | string>;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  log?: Logger;
  /** How files are replaced; replaceFile (through symlinks, mode kept, temp file + fsync + rename) unless a test swaps it. */
  writeFile?: (path: string, data: string | ((fh: FileHandle) => Promise<void>)) => Promise<void>;
}

function checkUsage(o: SummaryOptions): void {
  if (o.update && o.output) throw new UsageError("--update rewrites the document in place; it cannot be combined with -o/--output");
  if (o.update && o.sample) throw new UsageError("--sample writes a new report; it cannot be combined with --update");
  if (o.margin !== undefined && !(o.margin >= 1)) throw new UsageError(`--margin must be a factor of at least 1 (e.g. 1.2), got ${o.margin}`);
  if (o.fullSteps !== undefined && !(Number.isInteger(o.fullSteps) && o.fullSteps > 0))
    throw new UsageError(`--full-steps must be a positive whole number, got ${o.fullSteps}`);
  if (!o.sample && (o.fullSteps !== undefined || o.margin !== undefined)) throw new UsageError("--full-steps and --margin only apply with --sample");
}

/** Runs summary-md: returns the exit code (0 ok, 1 bad input lines or a write failed). */
export async function summarize(options: SummaryOptions, io: SummaryIo = {}): Promise<number> {
  checkUsage(options);
  const env = io.env ?? process.env;
  const cwd = io.cwd ?? process.cwd();
  const stderr = io.stderr ?? process.stderr;
  const log = io.log ?? createLogger(NAME, { stderr: stderr as NodeJS.WritableStream & { isTTY?: boolean }, env });
  const resolver = new Resolver();
  const write = io.writeFile ?? ((path: string, data: Parameters<typeof replaceFile>[1]) => replaceFile(path, data, { resolver, warn: log.warn }).then(() => {}));
  const now = resolveNow(options.now, env);
  const errors = new ErrorCounter(NAME, stderr);
  const at = (p: string) => resolve(cwd, p);
  const inputs = options.inputs.map((p) => (p === "-" ? p : at(p)));
  const updatePath = options.update ? at(options.update) : undefined;
  const outputPath = options.output ? at(options.output) : undefined;
  const linkBase = dirname(outputPath ?? updatePath ?? join(cwd, "x"));
  const plotsWanted = options.plots !== false && !(updatePath && options.plots === undefined);
  const plotDir = typeof options.plots === "string" ? at(options.plots) : join(linkBase, "plots");
  // Check every file named on the command line before any work, so a typo, a read-only document or a
  // directory in its place fails before a plot is written; read the document from where it really is.
  let doc: string | undefined;
  const updateKind = options.update ? documentKind(options.update) : undefined;
  if (updatePath) {
    const target = await checkTarget(resolver, updatePath, "--update");
    if (!target.stat) throw new UsageError(`--update: ${options.update} does not exist (to start a new report use -o)`);
    doc = await readFile(target.real, "utf8");
    // A YAML summary that cannot be updated as YAML is refused before any input is read.
    if (updateKind === "yaml") yamlLayout(() => parseExperimentYaml(doc!, options.update!));
  }
  if (outputPath) await checkTarget(resolver, outputPath, "-o");
  // Links in a --plots DIR the user typed are theirs to follow; below it (and for the default <dir>/plots) summary-md picks the names.
  const plotTyped = typeof options.plots === "string" ? plotDir : linkBase;
  if (plotsWanted) await usage(typeof options.plots === "string" ? "--plots" : "plots", () => resolver.directory(plotDir, plotTyped));
  const writePlot = (path: string, text: string) => replaceFile(path, text, { resolver, warn: log.warn, typed: plotTyped }).then(() => {});

  const read = {
    errors,
    ...(options.strict ? { strict: true } : {}),
    // The sample report shows everything about its one run; the status report needs a few fields of each.
    ...(options.sample ? {} : { fields: { plots: plotsWanted } }),
  };
  const collected = await collectInputs(inputs, { ...read, ...(io.stdin ? { stdin: io.stdin } : {}) });
  const expected = options.expected ? await readExpected(at(options.expected), read) : undefined;
  const views = buildViews(collected, expected, now.getTime());
  // The poll events only supply the views' start and end times: free them before the report is made.
  collected.events.clear();

  // The report in chunks, written out as they are made (a 100,000-run report is never one string).
  let markdown: Iterable<string>;
  if (options.sample) {
    const first = collected.runs.values().next().value as RunRecord | undefined;
    if (!first) {
      log.error("--sample: no run record in the input");
      return 1;
    }
    if (collected.runs.size > 1) log.warn(`--sample: ${collected.runs.size} runs in the input; reporting on the first, ${first.name}`);
    const view = views.find((v) => v.id === first.id)!;
    let plot: string | undefined;
    const curve = curveOf(view);
    if (plotsWanted && curve) {
      const file = join(plotDir, `${slug(view.name)}.svg`);
      await writePlots(new Map([[file, runPlotSvg(curve, { logY: options.logY ?? "auto" })]]), writePlot);
      plot = relativeLink(linkBase, file);
    }
    const report = sampleReport(view, {
      margin: options.margin ?? 1.2,
      generatedAt: now.toISOString(),
      ...(options.fullSteps ? { fullSteps: options.fullSteps } : {}),
      ...(plot ? { plot } : {}),
      ...fullSpec(view, expected),
    });
    markdown = [report];
  } else {
    const groups = groupViews(views);
    const plots = plotsWanted
      ? buildPlots(groups, { dir: plotDir, linkBase, logY: options.logY ?? "auto", ...(options.colorBy ? { colorBy: options.colorBy } : {}) })
      : undefined;
    if (plots) {
      const n = await writePlots(plots.files, writePlot);
      log.debug(`${plots.files.size} plots (${n} changed) in ${plotDir}`);
    }
    if (updatePath && doc !== undefined) {
      const result = updateKind === "yaml" ? yamlLayout(() => updateYamlDocument(doc!, views, options.update!)) : updateDocument(doc, views);
      if (result.text !== doc) await write(updatePath, result.text);
      log.info(
        updateKind === "yaml"
          ? `${options.update}: ${result.updatedRows} runs updated, ${result.addedRows} added to runs:`
          : result.appendedSection
            ? `${options.update}: no status table found; appended a Status section with ${result.addedRows} runs`
            : `${options.update}: ${result.updatedRows} rows updated, ${result.addedRows} added in ${result.tables} table(s)`,
      );
      return errors.count > 0 ? 1 : 0;
    }
    const reruns = buildReruns(views, { ...(options.expected ? { source: options.expected } : {}), ...(options.profile ? { profile: options.profile } : {}) });
    markdown = statusReportChunks({
      title: options.title ?? "Sweep status",
      generatedAt: now.toISOString(),
      groups,
      reruns,
      ...(plots ? { plots } : {}),
      ...(options.expected ? { rerunSource: options.expected, expectedCount: expected?.size ?? 0 } : {}),
      ...(options.profile ? { profile: options.profile } : {}),
    });
  }
  if (outputPath) {
    await write(outputPath, async (fh) => {
      for (const chunk of markdown) await fh.writeFile(chunk); // from the current position; loops over short writes
    });
  } else {
    const stdout = new NdjsonWriter(io.stdout ?? process.stdout);
    for (const chunk of markdown) await stdout.writeLine(chunk);
  }
  if (errors.count > 0) log.warn(`${errors.count} bad input line(s) skipped; the report covers the rest`);
  return errors.count > 0 ? 1 : 0;
}

/**
 * How `--update` edits the file, by its name: YAML for .yaml/.yml, markdown tables for anything else
 * but data formats summary-md cannot edit, which are refused (a markdown table appended to a
 * JSON file breaks it).
 */
function documentKind(path: string): "markdown" | "yaml" {
  const ext = /\.([A-Za-z0-9]+)$/.exec(path)?.[1]?.toLowerCase();
  if (ext === "yaml" || ext === "yml") return "yaml";
  if (ext && ["json", "ndjson", "jsonl", "toml", "csv", "tsv", "xml", "html", "htm", "ini"].includes(ext))
    throw new UsageError(`--update: ${path} is a .${ext} file; summary-md updates the status table of a markdown document or the runs: list of a YAML experiment summary`);
  return "markdown";
}

function yamlLayout<T>(run: () => T): T {
  try {
    return run();
  } catch (e) {
    if (e instanceof YamlLayoutError) throw new UsageError(`--update: ${e.message}`);
    throw e;
  }
}

/** What the path names is wrong (missing, a directory, a FIFO): a usage error (exit 2); not writable: exit 1. */
async function usage<T>(label: string, check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (e) {
    if (e instanceof TargetError && e.isUsage) throw new UsageError(`${label}: ${e.message}`);
    throw e;
  }
}

const checkTarget = (resolver: Resolver, path: string, label: string): Promise<FileTarget> =>
  usage(label, async () => {
    const target = await resolver.file(path);
    await checkWritable(target);
    return target;
  });

function relativeLink(base: string, file: string): string {
  return relative(base, file).split(sep).join("/");
}

/** The full run a sample stands for: same id, same name, the name without `sample-`, or the only one. */
function fullSpec(view: RunView, expected: Map<string, RunRecord> | undefined): { full?: RunRecord } {
  if (!expected || expected.size === 0) return {};
  const list = [...expected.values()];
  const bare = view.name.replace(/^sample-/, "");
  const found = expected.get(view.id) ?? list.find((r) => r.name === view.name) ?? list.find((r) => r.name === bare) ?? (list.length === 1 ? list[0] : undefined);
  return found ? { full: found } : {};
}
