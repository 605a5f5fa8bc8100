/**
 * slurm-render as a library: run records in, the same records plus `script`, `logs`, resolved
 * `resources` and `dir` out. Errors are attached to the record that failed; the stream goes on.
 */
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import {
  ErrorCounter,
  InputError,
  type Logger,
  NdjsonWriter,
  RunRecord,
  canonicalJson,
  contentId,
  readNdjsonInputs,
  runSlurm,
  sha256,
  zodField,
} from "@slurmpipe/core";
import { checkDirectives, checkSyntax } from "./check.ts";
import { RESOURCE_KEYS } from "./directives.ts";
import { writeIfChanged } from "./files.ts";
import { type Profile, loadProfile } from "./profile.ts";
import { type JobPlan, type Overrides, RunError, planJob } from "./resolve.ts";
import { type ArrayPart, logPatterns, renderArrayScript, renderRunScript, tableLine } from "./script.ts";

export const STAGE = "slurm-render";
export const DEFAULT_MAX_ARRAY_SIZE = 1001;

export interface RenderOptions {
  /** NDJSON input files; empty or "-" = stdin. */
  inputs?: string[];
  stdin?: AsyncIterable<Buffer | string>;
  stdout: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  log: Logger;
  cwd: string;
  /** Built-in profile name or YAML file. */
  profile: string;
  builtinProfiles?: Record<string, string>;
  /** Directory the run directories are created in (default runs/). */
  out?: string;
  overrides?: Overrides;
  sample?: boolean;
  array?: boolean;
  /** `%K` of `--array=0-N%K`: at most K tasks running at once. */
  arrayLimit?: number;
  /** Overrides the site's MaxArraySize. */
  maxArraySize?: number;
  check?: boolean;
  strict?: boolean;
  /** Reads MaxArraySize from the cluster; default: `scontrol show config`. */
  readMaxArraySize?: () => Promise<number | undefined>;
}

interface Item {
  record: Record<string, unknown>;
  source: string;
  line: number;
  plan?: JobPlan;
  /** Set once the record is final (rendered, failed or passed through). */
  output?: Record<string, unknown>;
}

export async function render(options: RenderOptions): Promise<number> {
  const log = options.log;
  const profile = await loadProfile(options.profile, { builtins: options.builtinProfiles, cwd: options.cwd });
  const outDir = resolve(options.cwd, options.out ?? "runs");
  const counter = new ErrorCounter(STAGE, options.stderr ?? process.stderr);
  const writer = new NdjsonWriter(options.stdout);
  const names = new Map<string, { id: string; where: string }>();
  let failed = 0;
  const pending: Item[] = [];
  // The same warning for 216 runs is printed once.
  const warned = new Set<string>();

  const fail = (item: Item, e: unknown): Record<string, unknown> => {
    if (!(e instanceof RunError)) throw e;
    failed += 1;
    const where = `${item.source}:${item.line}`;
    const message = `${e.field ? `field "${e.field}": ` : ""}${e.message}`;
    log.error(`${where}: run ${String(item.record.name ?? item.record.id)}: ${message}`);
    if (options.strict) throw new InputError({ source: item.source, line: item.line, field: e.field, message: e.message });
    return { ...item.record, error: { stage: STAGE, message, code: e.code } };
  };

  for await (const { value, source, line } of readNdjsonInputs<Record<string, unknown>>(options.inputs ?? [], {
    stdin: options.stdin,
    strict: options.strict,
    onError: counter.report,
  })) {
    const item: Item = { record: value, source, line };
    const passThrough = passThroughReason(value);
    if (passThrough !== undefined) {
      log.debug(`${source}:${line}: passed through unchanged (${passThrough})`);
      item.output = value;
    } else {
      const parsed = RunRecord.safeParse(value);
      if (!parsed.success) {
        const { field, message } = zodField(parsed.error);
        counter.report({ source, line, field, message });
        if (options.strict) throw new InputError({ source, line, field, message });
        continue;
      }
      try {
        const run = parsed.data;
        const seen = names.get(run.name);
        if (seen && seen.id !== run.id) throw new RunError(`duplicate run name ${JSON.stringify(run.name)} (also run ${seen.id} at ${seen.where})`, "name", "duplicate_name");
        names.set(run.name, { id: run.id, where: `${source}:${line}` });
        item.plan = planJob(run, { profile, overrides: options.overrides ?? {}, outDir, cwd: options.cwd, sample: Boolean(options.sample) });
        for (const w of item.plan.warnings) if (!warned.has(w) && warned.add(w)) log.warn(w);
        if (options.check) {
          const problems = checkDirectives(item.plan);
          if (problems.length > 0) throw new RunError(problems.map((p) => `${p.field}: ${p.message}`).join("; "), problems[0]!.field, "check_failed");
        }
        if (!options.array) item.output = await renderOne(value, item.plan, profile, Boolean(options.check));
      } catch (e) {
        item.output = fail(item, e);
      }
    }
    // Without --array every record is final at once: stream it.
    if (!options.array) await writer.write(item.output);
    else pending.push(item);
  }

  if (options.array) {
    const maxSize = await resolveMaxArraySize(options, profile, log);
    await renderArrays(pending, { profile, outDir, maxSize, limit: options.arrayLimit, check: Boolean(options.check), fail });
    for (const item of pending) await writer.write(item.output);
  }
  const total = failed + counter.count;
  if (total > 0) log.error(`${total} record(s) failed`);
  return total > 0 ? 1 : 0;
}

/** Records slurm-render has nothing to do for: other kinds, upstream failures, ready-made scripts without a command. */
function passThroughReason(record: Record<string, unknown>): string | undefined {
  if (record.kind !== undefined && record.kind !== "run") return `kind ${JSON.stringify(record.kind)}`;
  if (record.error !== undefined) return "it carries an upstream error";
  if (record.script !== undefined && record.command === undefined) return "it already has a script and no command";
  return undefined;
}

/** The record as written: resolved resources (run-spec and CLI env/setup kept, so re-rendering gives the same script). */
function outputRecord(raw: Record<string, unknown>, plan: JobPlan, script: Record<string, unknown>, logs: { stdout: string; stderr: string }): Record<string, unknown> {
  const resources: Record<string, unknown> = {};
  for (const key of RESOURCE_KEYS) if (plan.resources[key] !== undefined) resources[key] = plan.resources[key];
  if (plan.extra.length > 0) resources.extra = plan.extra;
  if (Object.keys(plan.literalEnv).length > 0) resources.env = plan.literalEnv;
  if (plan.runSetup.length > 0) resources.setup = plan.runSetup;
  // The input object, not the parsed one, so every field keeps its place and value.
  return { ...raw, dir: plan.runDir, resources, script, logs };
}

async function renderOne(raw: Record<string, unknown>, plan: JobPlan, profile: Profile, check: boolean): Promise<Record<string, unknown>> {
  const text = renderRunScript(plan, profile.name);
  if (check) {
    const problems = await checkSyntax(text);
    if (problems.length > 0) throw new RunError(problems[0]!.message, "script", "check_failed");
  }
  const path = `${plan.scriptDir}/job.sbatch`;
  // sbatch fails the job (0:53) when the --output directory is missing: create it now.
  await mkdir(`${plan.scriptDir}/logs`, { recursive: true });
  await writeIfChanged(path, text);
  return outputRecord(raw, plan, { path, sha256: sha256(text) }, logPatterns(plan.scriptDir, false));
}

async function resolveMaxArraySize(options: RenderOptions, profile: Profile, log: Logger): Promise<number> {
  if (options.maxArraySize !== undefined) return options.maxArraySize;
  const site = await (options.readMaxArraySize ?? readMaxArraySizeFromSlurm)().catch(() => undefined);
  if (site !== undefined) log.debug(`MaxArraySize ${site} (scontrol show config)`);
  // Either source may be the stricter one (the profile describes the target site, scontrol the cluster we are on).
  const candidates = [site, profile.max_array_size].filter((n): n is number => typeof n === "number" && n > 0);
  return candidates.length > 0 ? Math.min(...candidates) : DEFAULT_MAX_ARRAY_SIZE;
}

export async function readMaxArraySizeFromSlurm(): Promise<number | undefined> {
  const r = await runSlurm("scontrol", ["show", "config"], { attempts: 1, timeoutMs: 15_000 });
  const m = /^MaxArraySize\s*=\s*(\d+)/m.exec(r.stdout);
  return m ? Number(m[1]) : undefined;
}

interface ArrayContext {
  profile: Profile;
  outDir: string;
  maxSize: number;
  limit?: number;
  check: boolean;
  fail: (item: Item, e: unknown) => Record<string, unknown>;
}

/**
 * What must be identical for runs to share one array script: everything but id, name, dir and argv.
 * Group and priority too, so a sweep's variants stay separate jobs (monitored and submitted in order).
 */
function arrayKey(plan: JobPlan): string {
  const { run, jobName: _j, scriptDir: _s, runDir: _d, command: _c, literalEnv: _l, runSetup: _u, warnings: _w, ...shared } = plan;
  return canonicalJson({ ...shared, group: run.group ?? null, priority: run.priority ?? null });
}

async function renderArrays(items: Item[], ctx: ArrayContext): Promise<void> {
  const groups = new Map<string, Item[]>();
  for (const item of items) {
    if (item.output || !item.plan) continue;
    const key = arrayKey(item.plan);
    groups.set(key, [...(groups.get(key) ?? []), item]);
  }
  for (const members of groups.values()) {
    const chunks: Item[][] = [];
    for (let i = 0; i < members.length; i += ctx.maxSize) chunks.push(members.slice(i, i + ctx.maxSize));
    for (const [partIndex, chunk] of chunks.entries()) {
      try {
        await renderArrayPart(chunk, partIndex, chunks.length, ctx);
      } catch (e) {
        for (const item of chunk) item.output = ctx.fail(item, e);
      }
    }
  }
}

async function renderArrayPart(chunk: Item[], partIndex: number, parts: number, ctx: ArrayContext): Promise<void> {
  const plans = chunk.map((i) => i.plan!);
  const first = plans[0]!;
  const id = contentId(plans.map((p) => p.run.id));
  const name = `${arrayBaseName(plans)}-array${parts > 1 ? `${partIndex + 1}of${parts}` : ""}`;
  const dir = resolve(ctx.outDir, `${name}-${id}`);
  const table = `${plans.map((p) => tableLine([p.run.id, p.run.name, p.runDir, ...argvOf(p)])).join("\n")}\n`;
  const spec = `0-${plans.length - 1}${ctx.limit ? `%${ctx.limit}` : ""}`;
  const part: ArrayPart = { name, id, spec, dir, tablePath: `${dir}/params.tbl`, tableSha256: sha256(table) };
  const text = renderArrayScript(first, part, ctx.profile.name, plans.length);
  if (ctx.check) {
    const problems = await checkSyntax(text);
    if (problems.length > 0) throw new RunError(problems[0]!.message, "script", "check_failed");
  }
  await mkdir(`${dir}/logs`, { recursive: true });
  await writeIfChanged(part.tablePath, table);
  await writeIfChanged(`${dir}/job.sbatch`, text);
  const scriptSha = sha256(text);
  const logs = logPatterns(dir, true);
  chunk.forEach((item, index) => {
    const script = { path: `${dir}/job.sbatch`, sha256: scriptSha, array: { index, table: part.tablePath, spec, id, name } };
    item.output = outputRecord(item.record, item.plan!, script, logs);
  });
}

/** A string command runs as `bash -c LINE` in an array task (the table holds argv only). */
function argvOf(plan: JobPlan): string[] {
  return "argv" in plan.command ? plan.command.argv : ["bash", "-c", plan.command.shell];
}

function arrayBaseName(plans: JobPlan[]): string {
  const common = (key: "group" | "variant") => {
    const values = new Set(plans.map((p) => p.run[key]));
    const [only] = values;
    return values.size === 1 && typeof only === "string" && only !== "" ? only : undefined;
  };
  const base = common("group") ?? common("variant") ?? "runs";
  const prefix = plans[0]!.jobName.startsWith("sample-") ? "sample-" : "";
  return prefix + base.replace(/[^A-Za-z0-9_.+=@,-]+/g, "_").slice(0, 100);
}
