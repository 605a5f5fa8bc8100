import { type Logger, NdjsonWriter, RunRecord, UsageError, createLogger, fsReason } from "@slurmpipe/core";
import { type CompiledSweep, type FlagOverrides, type SweepFile, compileSweep } from "./compile.ts";
import { type ControlsMode, fromDirs } from "./from-dirs.ts";
import { RunBuilder, combos, totalCombos } from "./generate.ts";
import { SweepError, formatIssue } from "./issues.ts";
import { checkNames } from "./names.ts";
import { DEFAULT_MAX_NAME_LENGTH } from "./plan.ts";
import { StagedSweep } from "./staged-run.ts";
import { readSweepText } from "./sweep-file.ts";

export { compileSweep, TOP_LEVEL_KEYS, type FlagOverrides, type SweepFile, type CompiledSweep } from "./compile.ts";
export { combos, totalCombos, RunBuilder, hydraValue, ID_LENGTH } from "./generate.ts";
export { checkNames, proveNames, nameProblem } from "./names.ts";
export { parseFilter, matchesFilter, FilterSyntaxError } from "./filter.ts";
export { createSampler, SAMPLE_METHODS, type SampleMethod } from "./sample.ts";
export { expandRange } from "./axes.ts";
export { formatNumber, nameLabel } from "./values.ts";
export { fromDirs, readDirectives, logPatterns, type ControlsMode } from "./from-dirs.ts";
export { parseSummaryMarkdown, parseSummaryYaml } from "./summary.ts";
export { SweepError, formatIssue, type Issue } from "./issues.ts";

export interface SweepGenOptions extends FlagOverrides {
  /** Sweep file path (YAML or JSON). */
  file?: string;
  /** Print only the number of runs. */
  count?: boolean;
  /** Globs of existing job scripts (`exp/*\/finetune.slurm`): emit them instead of a sweep. */
  fromDirs?: string[];
  controls?: ControlsMode;
  /** Largest sweep generated (default DEFAULT_MAX_RUNS); a bigger one is refused before any work. */
  maxRuns?: number;
}

/**
 * A sweep larger than this is almost always a template mistake (an axis of 10^6 values, a grid
 * crossed with itself): Slurm's default MaxJobCount is 10,000 jobs for the whole cluster. Refused
 * up front by arithmetic, so it neither runs for minutes nor grows the duplicate-name check
 * without bound; `--max-runs` raises the limit for the sweep that really is that big.
 */
export const DEFAULT_MAX_RUNS = 1_000_000;

export interface SweepGenIo {
  stdout: NodeJS.WritableStream;
  log?: Logger;
  cwd?: string;
  /** Reads the sweep file; defaults to the file system. */
  readFile?: (path: string) => string;
}

const CHUNK_CHARS = 64 * 1024;

/** Reads a sweep file (or none) and compiles it with the flags; prints warnings. */
export function loadSweep(opts: SweepGenOptions, io: SweepGenIo = { stdout: process.stdout }): CompiledSweep {
  let file: SweepFile | undefined;
  if (opts.file !== undefined) {
    let text: string;
    try {
      text = (io.readFile ?? readSweepText)(opts.file);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`cannot read sweep file ${opts.file}: ${fsReason(e as NodeJS.ErrnoException)}`);
    }
    file = { source: opts.file, text };
  }
  const plan = compileSweep(file, opts);
  for (const w of plan.warnings) (io.log ?? createLogger("sweep-gen")).warn(w);
  return plan;
}

/**
 * Generates every run of a sweep as NDJSON on `io.stdout` (or only their number with `count`).
 * Names are checked before the first record is written, so a bad sweep writes nothing.
 * Returns the exit code: 0 ok, 1 bad sweep; throws UsageError for bad flags (exit 2) and
 * PipeClosedError when the reader goes away (quiet exit).
 */
export async function sweepGen(opts: SweepGenOptions, io: SweepGenIo): Promise<number> {
  const log = io.log ?? createLogger("sweep-gen");
  const out = new NdjsonWriter(io.stdout);
  if (opts.fromDirs && opts.fromDirs.length > 0) {
    if (opts.file !== undefined || (opts.params?.length ?? 0) > 0) throw new UsageError("--from-dirs reads existing run directories; it takes no sweep file or -p");
    let n = 0;
    const code = await fromDirs(
      { patterns: opts.fromDirs, cwd: io.cwd ?? process.cwd(), controls: opts.controls ?? "skip", log, maxNameLength: opts.maxNameLength ?? DEFAULT_MAX_NAME_LENGTH },
      async (rec) => {
        n++;
        if (!opts.count) await out.writeLine(JSON.stringify(RunRecord.parse(rec)));
      },
    );
    if (opts.count) await out.writeLine(String(n));
    return code;
  }
  if (opts.file === undefined && (opts.params?.length ?? 0) === 0) {
    throw new UsageError("give a sweep file, -p KEY=VALUES, or --from-dirs GLOB");
  }
  let plan: CompiledSweep;
  try {
    plan = loadSweep(opts, { ...io, log });
  } catch (e) {
    if (!(e instanceof SweepError)) throw e;
    for (const issue of e.issues) log.error(formatIssue(issue));
    return 1;
  }
  if (plan.stages.length > 0) return stagedSweep(plan, opts, out, log);
  const total = totalCombos(plan);
  const filtered = plan.filters.length > 0 || plan.excludes.length > 0;
  const maxRuns = opts.maxRuns ?? DEFAULT_MAX_RUNS;
  // Also with --count: the message says how many runs it would make.
  if (total > maxRuns) {
    log.error(
      `${opts.file ?? "the sweep"}: it makes ${formatCount(total)} runs${filtered ? " before its filters" : ""}, over the limit of ${formatCount(maxRuns)}: ` +
        "check the grid for an axis with more values than meant, or raise the limit with --max-runs",
    );
    return 1;
  }
  const builder = new RunBuilder(plan);
  const check = checkNames(plan, builder);
  if (check.issues.length > 0) {
    for (const issue of check.issues) log.error(formatIssue(issue));
    return 1;
  }
  if (opts.count) {
    let n = check.count;
    if (n === undefined) {
      if (plan.filters.length === 0 && plan.excludes.length === 0) n = totalCombos(plan);
      else {
        n = 0;
        for (const c of combos(plan)) if (builder.keep(c)) n++;
      }
    }
    await out.writeLine(String(n));
    return 0;
  }
  if (!plan.command.words) log.debug("the sweep has no command: records carry params only");
  const checked = new Set<unknown>();
  // Lines are written in chunks of ~64 KiB: one write per line costs more than generating it.
  let chunk = "";
  for (const c of combos(plan)) {
    if (!builder.keep(c)) continue;
    const rec = builder.record(c);
    // The first record of each variant is checked against core's schema; the rest share its shape.
    if (!checked.has(c.variant)) {
      RunRecord.parse(rec);
      checked.add(c.variant);
    }
    chunk += `${JSON.stringify(rec)}\n`;
    if (chunk.length >= CHUNK_CHARS) {
      await out.writeLine(chunk);
      chunk = "";
    }
  }
  if (chunk) await out.writeLine(chunk);
  return 0;
}

/** A sweep with `stages:`: every stage's names checked, then the dependencies, then the runs. */
async function stagedSweep(plan: CompiledSweep, opts: SweepGenOptions, out: NdjsonWriter, log: Logger): Promise<number> {
  const staged = new StagedSweep(plan, plan.stages);
  const total = totalCombos(plan) * staged.runStageCount;
  const maxRuns = opts.maxRuns ?? DEFAULT_MAX_RUNS;
  if (total > maxRuns) {
    log.error(`${opts.file ?? "the sweep"}: its stages make ${formatCount(total)} runs, over the limit of ${formatCount(maxRuns)}: raise the limit with --max-runs`);
    return 1;
  }
  const issues = staged.builders().flatMap(({ plan: p, builder }) => checkNames(p, builder).issues);
  const checked = issues.length === 0 ? staged.check() : undefined;
  for (const issue of [...issues, ...(checked?.issues ?? [])]) log.error(formatIssue(issue));
  if (!checked || checked.issues.length > 0) return 1;
  if (opts.count) {
    await out.writeLine(String(checked.count));
    return 0;
  }
  let chunk = "";
  let first = true;
  await staged.generate(async (line) => {
    // The first record is checked against core's schema; the others of a stage share its shape.
    if (first) RunRecord.parse(JSON.parse(line));
    first = false;
    chunk += `${line}\n`;
    if (chunk.length >= CHUNK_CHARS) {
      await out.writeLine(chunk);
      chunk = "";
    }
  });
  if (chunk) await out.writeLine(chunk);
  return 0;
}

function formatCount(n: number): string {
  return n < 1e15 ? n.toLocaleString("en-US") : n.toExponential(2);
}
