import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { type Logger, type RunRecord, SCHEMA_VERSION, contentId, sha256 } from "@slurmpipe/core";
import fg from "fast-glob";
import { split as shellSplit } from "shlex";
import { ID_LENGTH } from "./generate.ts";
import { nameProblem } from "./names.ts";
import { type Summary, type SummaryRow, markedForFineTuning, parseSummaryMarkdown, parseSummaryYaml } from "./summary.ts";

export type ControlsMode = "skip" | "include";

export interface FromDirsOptions {
  patterns: string[];
  cwd: string;
  controls: ControlsMode;
  log: Logger;
  maxNameLength: number;
}

export interface Directives {
  jobName?: string;
  output?: string;
  error?: string;
  chdir?: string;
}

const OPTION_OF: Record<string, keyof Directives> = {
  "--job-name": "jobName",
  "-J": "jobName",
  "--output": "output",
  "-o": "output",
  "--error": "error",
  "-e": "error",
  "--chdir": "chdir",
  "-D": "chdir",
};

/**
 * The #SBATCH options sweep-gen needs from a job script. Like sbatch, it reads directives only
 * up to the first command line; later `#SBATCH` lines are plain comments.
 */
export function readDirectives(script: string): Directives {
  const out: Directives = {};
  for (const raw of script.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || (line.startsWith("#") && !line.startsWith("#SBATCH"))) continue;
    if (!line.startsWith("#SBATCH")) break;
    let words: string[];
    try {
      words = shellSplit(line.slice("#SBATCH".length));
    } catch {
      continue;
    }
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      if (w.startsWith("#")) break;
      const eq = w.indexOf("=");
      const opt = w.startsWith("--") && eq > 0 ? w.slice(0, eq) : w.startsWith("--") ? w : w.slice(0, 2);
      const key = OPTION_OF[opt];
      if (!key) continue;
      if (w.startsWith("--") && eq > 0) out[key] = w.slice(eq + 1);
      else if (!w.startsWith("--") && w.length > 2) out[key] = w.slice(2);
      else if (words[i + 1] !== undefined) out[key] = words[++i]!;
    }
  }
  return out;
}

/** Log path patterns as sbatch will expand them: relative paths are relative to the submit (or --chdir) directory. */
export function logPatterns(d: Directives, scriptDir: string): { stdout: string; stderr: string } {
  const base = d.chdir ? resolve(scriptDir, d.chdir) : scriptDir;
  const stdout = resolve(base, d.output ?? "slurm-%j.out");
  return { stdout, stderr: d.error ? resolve(base, d.error) : stdout };
}

function loadSummary(expDir: string): Summary | undefined {
  for (const [file, parse] of [
    ["experiment_summary.yaml", parseSummaryYaml],
    ["experiment_summary.yml", parseSummaryYaml],
    ["experiment_summary.md", parseSummaryMarkdown],
  ] as const) {
    const path = join(expDir, file);
    if (existsSync(path)) return parse(readFileSync(path, "utf8"), path);
  }
  return undefined;
}

const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, "");

/**
 * Turns existing run directories with ready job scripts into run records that slurm-submit
 * accepts as they are (no render step). Calls `emit` per record, in sorted path order; returns
 * the exit code (1 when some run could not be turned into a record).
 */
export async function fromDirs(opts: FromDirsOptions, emit: (r: RunRecord) => Promise<void>): Promise<number> {
  const { log } = opts;
  const scripts = (await fg(opts.patterns, { cwd: opts.cwd, absolute: true, onlyFiles: true, unique: true })).sort();
  if (scripts.length === 0) {
    log.error(`no job scripts match ${opts.patterns.map((p) => JSON.stringify(p)).join(" ")} (relative to ${opts.cwd})`);
    return 1;
  }
  const byExperiment = new Map<string, string[]>();
  for (const s of scripts) {
    const exp = dirname(dirname(s));
    byExperiment.set(exp, [...(byExperiment.get(exp) ?? []), s]);
  }
  let failed = 0;
  for (const [expDir, expScripts] of byExperiment) {
    const experiment = basename(expDir);
    const summary = loadSummary(expDir);
    const rows = summary?.rows ?? [];
    const where = (row: SummaryRow) => `${summary!.file}:${row.line}`;
    const exact = new Map<string, SummaryRow>();
    const loose = new Map<string, SummaryRow>();
    for (const row of rows) {
      exact.set(row.dir ?? row.name, row);
      loose.set(norm(row.dir ?? row.name), row);
    }
    const matched = new Set<SummaryRow>();
    const scriptNames = new Set(expScripts.map((s) => basename(s)));
    for (const script of expScripts) {
      const dir = dirname(script);
      const dirName = basename(dir);
      const row = exact.get(dirName) ?? loose.get(norm(dirName));
      if (row) matched.add(row);
      let name = row?.name ?? dirName;
      if (nameProblem(name, opts.maxNameLength) && !nameProblem(dirName, opts.maxNameLength)) {
        log.warn(`${where(row!)}: run name ${JSON.stringify(name)} is not safe as a job name; using the directory name ${dirName}`);
        name = dirName;
      }
      const problem = nameProblem(name, opts.maxNameLength);
      if (problem) {
        log.error(`${script}: ${problem}`);
        failed++;
        continue;
      }
      if (row?.control) {
        if (opts.controls === "skip") {
          log.info(`skipping control run ${name} (${where(row)}); --controls include emits it`);
          continue;
        }
        await emit(controlRecord(experiment, name, dir));
        continue;
      }
      const text = readFileSync(script);
      const directives = readDirectives(text.toString("utf8"));
      const rec: RunRecord = {
        kind: "run",
        v: SCHEMA_VERSION,
        id: contentId({ experiment, run: name }, ID_LENGTH),
        name,
        group: experiment,
        dir,
        script: { path: script, sha256: sha256(text), ...(directives.jobName ? { job_name: directives.jobName } : {}) },
        logs: logPatterns(directives, dir),
      };
      await emit(rec);
    }
    // Rows with no matched script: controls, or runs whose directory has no job script.
    for (const row of rows) {
      if (matched.has(row)) continue;
      const dir = join(expDir, row.dir ?? row.name);
      const hasDir = existsSync(dir);
      if ([...scriptNames].some((n) => existsSync(join(dir, n)))) continue; // left out by the glob on purpose
      if (!row.control && !hasDir) {
        log.warn(`${where(row)}: run ${row.name} has no directory ${dir} (not scaffolded?); skipped`);
        continue;
      }
      if (hasDir && markedForFineTuning(row)) {
        // Not a quiet note: the run would silently never be trained. A record with an error
        // keeps it visible downstream (slurm-submit passes it through, summary-md shows it).
        const message = `${dir}: marked for fine-tuning in ${basename(summary!.file)} but has no ${[...scriptNames].join(" or ")}`;
        log.warn(`${message} (${where(row)})`);
        const name = nameProblem(row.name, opts.maxNameLength) ? basename(dir) : row.name;
        await emit({ ...baseRecord(experiment, name), dir, error: { stage: "sweep-gen", code: "missing_script", message } });
        failed++;
        continue;
      }
      if (opts.controls === "skip") {
        log.info(`skipping ${row.control ? "control run" : "run without a job script"} ${row.name} (${where(row)}); --controls include emits it`);
        continue;
      }
      if (nameProblem(row.name, opts.maxNameLength)) {
        log.error(`${where(row)}: ${nameProblem(row.name, opts.maxNameLength)}`);
        failed++;
        continue;
      }
      await emit(controlRecord(experiment, row.name, hasDir ? dir : undefined));
    }
  }
  return failed > 0 ? 1 : 0;
}

function baseRecord(experiment: string, name: string): RunRecord {
  return { kind: "run", v: SCHEMA_VERSION, id: contentId({ experiment, run: name }, ID_LENGTH), name, group: experiment };
}

function controlRecord(experiment: string, name: string, dir: string | undefined): RunRecord {
  const rec: RunRecord = { ...baseRecord(experiment, name), control: true };
  if (dir) rec.dir = dir;
  return rec;
}
