/**
 * slurm-render as a library: run records in, the same records plus `script`, `logs`, resolved
 * `resources` and `dir` out. Errors are attached to the record that failed; the stream goes on.
 */
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
import { placeFor, writeRunFiles } from "./files.ts";
import { type Profile, loadProfile } from "./profile.ts";
import { OverrideReport, type RenderedWith, checkFlagValues, renderedWith } from "./rerun.ts";
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

/**
 * A run waiting for its array script. With --array no record can be written before the input
 * ends (the number of parts of an array is in every script path), so 100,000 runs wait in memory:
 * each keeps only what its output record and its table line need, not its plan and parsed record.
 */
interface ArrayMember {
  /** The input record as JSON; the output record is rebuilt from it with the same fields in the same order. */
  raw: string;
  source: string;
  line: number;
  id: string;
  group: unknown;
  variant: unknown;
  sample: boolean;
  dir: string;
  /** The record's resolved resources (one shared object for runs that resolve alike). */
  resources: Record<string, unknown>;
  table: string;
  /** Set by renderArrays: the member's array part and task index, or its failure. */
  part?: RenderedPart;
  index?: number;
  failed?: Record<string, unknown>;
}

/** Members sharing one array key, and the plan of the first: the key makes every member's script part equal. */
interface ArrayGroup {
  plan: JobPlan;
  members: ArrayMember[];
}

interface RenderedPart {
  path: string;
  sha256: string;
  table: string;
  spec: string;
  id: string;
  name: string;
  logs: { stdout: string; stderr: string };
}

type Pending = { output: Record<string, unknown> } | ArrayMember;

export async function render(options: RenderOptions): Promise<number> {
  const log = options.log;
  checkFlagValues(options.overrides ?? {});
  const profile = await loadProfile(options.profile, { builtins: options.builtinProfiles, cwd: options.cwd });
  const outDir = resolve(options.cwd, options.out ?? "runs");
  const how = renderedWith({
    profile: profile.name,
    outDir,
    overrides: options.overrides ?? {},
    sample: Boolean(options.sample),
    array: Boolean(options.array),
    arrayLimit: options.arrayLimit,
    maxArraySize: options.maxArraySize,
    check: Boolean(options.check),
    strict: Boolean(options.strict),
  });
  const overrideReport = new OverrideReport();
  const counter = new ErrorCounter(STAGE, options.stderr ?? process.stderr);
  const writer = new NdjsonWriter(options.stdout);
  const names = new Map<string, { id: string; where: string }>();
  let failed = 0;
  // --array: every record in input order, and the runs grouped by array key as they arrive.
  const pending: Pending[] = [];
  const groups = new Map<string, ArrayGroup>();
  const sharedResources = new Map<string, Record<string, unknown>>();
  // The same warning for 216 runs is printed once.
  const warned = new Set<string>();

  const fail = (item: Pick<Item, "record" | "source" | "line">, e: unknown): Record<string, unknown> => {
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
        overrideReport.note(item.plan.run.name, item.plan.overridden);
        if (options.check) {
          const problems = checkDirectives(item.plan);
          if (problems.length > 0) throw new RunError(problems.map((p) => `${p.field}: ${p.message}`).join("; "), problems[0]!.field, "check_failed");
        }
        if (!options.array) item.output = await renderOne(value, item.plan, profile, Boolean(options.check), how);
      } catch (e) {
        item.output = fail(item, e);
      }
    }
    // Without --array every record is final at once: stream it.
    if (!options.array) await writer.write(item.output);
    else if (item.output) pending.push({ output: item.output });
    else pending.push(addToGroup(groups, item.plan!, { record: value, source, line }, sharedResources));
  }

  if (options.array) {
    const maxSize = await resolveMaxArraySize(options, profile, log);
    await renderArrays(groups, { profile, outDir, maxSize, limit: options.arrayLimit, check: Boolean(options.check), fail });
    for (const entry of pending) await writer.write("raw" in entry ? memberOutput(entry, how) : entry.output);
  }
  for (const line of overrideReport.lines()) log.warn(line);
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
  // The input object, not the parsed one, so every field keeps its place and value.
  return { ...raw, ...identity(plan), dir: plan.runDir, resources: outputResources(plan), script, logs };
}

/** A sample's own id and name, and `sample_of` linking it to the full run (nothing for a full run). */
function identity(plan: JobPlan): Record<string, unknown> {
  return plan.sampleOf ? { id: plan.run.id, name: plan.run.name, sample_of: plan.sampleOf } : {};
}

function outputResources(plan: JobPlan): Record<string, unknown> {
  const resources: Record<string, unknown> = {};
  for (const key of RESOURCE_KEYS) if (plan.resources[key] !== undefined) resources[key] = plan.resources[key];
  if (plan.extra.length > 0) resources.extra = plan.extra;
  if (Object.keys(plan.literalEnv).length > 0) resources.env = plan.literalEnv;
  if (plan.runSetup.length > 0) resources.setup = plan.runSetup;
  return resources;
}

/** Files the run under its array key, keeping only what its output record and table line need. */
function addToGroup(groups: Map<string, ArrayGroup>, plan: JobPlan, item: Pick<Item, "record" | "source" | "line">, shared: Map<string, Record<string, unknown>>): ArrayMember {
  const resources = outputResources(plan);
  const resourcesKey = JSON.stringify(resources);
  const sharedResources = shared.get(resourcesKey) ?? shared.set(resourcesKey, resources).get(resourcesKey)!;
  const member: ArrayMember = {
    raw: JSON.stringify({ ...item.record, ...identity(plan) }),
    source: item.source,
    line: item.line,
    id: plan.run.id,
    group: plan.run.group,
    variant: plan.run.variant,
    sample: plan.jobName.startsWith("sample-"),
    dir: plan.runDir,
    resources: sharedResources,
    table: tableLine([plan.run.id, plan.run.name, plan.runDir, ...argvOf(plan)]),
  };
  const key = arrayKey(plan);
  const group = groups.get(key);
  if (group) group.members.push(member);
  else groups.set(key, { plan, members: [member] });
  return member;
}

/** The output record of an array member: `{...input, dir, resources, script, logs}`, built only when written. */
function memberOutput(member: ArrayMember, how: RenderedWith): Record<string, unknown> {
  if (member.failed) return member.failed;
  const part = member.part!;
  const record = JSON.parse(member.raw) as Record<string, unknown>;
  // Assignment keeps a field the input already had in its place and appends new ones in this order, as a spread does.
  record.dir = member.dir;
  record.resources = member.resources;
  record.script = { path: part.path, sha256: part.sha256, array: { index: member.index, table: part.table, spec: part.spec, id: part.id, name: part.name }, rendered_with: how };
  record.logs = part.logs;
  return record;
}

async function renderOne(raw: Record<string, unknown>, plan: JobPlan, profile: Profile, check: boolean, how: RenderedWith): Promise<Record<string, unknown>> {
  const text = renderRunScript(plan, profile.name);
  if (check) {
    const problems = await checkSyntax(text);
    if (problems.length > 0) throw new RunError(problems[0]!.message, "script", "check_failed");
  }
  // A changed script goes to a file of its own: the old one may be what a queued job runs.
  const path = await placeFor(`${plan.scriptDir}/job.sbatch`, text);
  await writeRunFiles(plan.scriptDir, [[path, text]]);
  return outputRecord(raw, plan, { path, sha256: sha256(text), rendered_with: how }, logPatterns(plan.scriptDir, false));
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
  fail: (item: Pick<Item, "record" | "source" | "line">, e: unknown) => Record<string, unknown>;
}

/**
 * What must be identical for runs to share one array script: everything but id, name, dir and argv.
 * Group and priority too, so a sweep's variants stay separate jobs (monitored and submitted in order).
 */
function arrayKey(plan: JobPlan): string {
  const { run, jobName: _j, scriptDir: _s, runDir: _d, command: _c, literalEnv: _l, runSetup: _u, warnings: _w, overridden: _o, ...shared } = plan;
  return canonicalJson({ ...shared, group: run.group ?? null, priority: run.priority ?? null });
}

async function renderArrays(groups: Map<string, ArrayGroup>, ctx: ArrayContext): Promise<void> {
  for (const { plan, members } of groups.values()) {
    const chunks: ArrayMember[][] = [];
    for (let i = 0; i < members.length; i += ctx.maxSize) chunks.push(members.slice(i, i + ctx.maxSize));
    for (const [partIndex, chunk] of chunks.entries()) {
      try {
        await renderArrayPart(plan, chunk, partIndex, chunks.length, ctx);
      } catch (e) {
        for (const member of chunk) member.failed = ctx.fail({ record: JSON.parse(member.raw), source: member.source, line: member.line }, e);
      }
    }
  }
}

/** `plan`: the group's first plan; every member's plan has the same array key, hence the same script. */
async function renderArrayPart(plan: JobPlan, chunk: ArrayMember[], partIndex: number, parts: number, ctx: ArrayContext): Promise<void> {
  const id = contentId(chunk.map((m) => m.id));
  const name = `${arrayBaseName(chunk)}-array${parts > 1 ? `${partIndex + 1}of${parts}` : ""}`;
  const dir = resolve(ctx.outDir, `${name}-${id}`);
  const table = `${chunk.map((m) => m.table).join("\n")}\n`;
  const spec = `0-${chunk.length - 1}${ctx.limit ? `%${ctx.limit}` : ""}`;
  // Neither the table nor the script of a submitted array is replaced: changed ones get files of their own.
  const part: ArrayPart = { name, id, spec, dir, tablePath: await placeFor(`${dir}/params.tbl`, table), tableSha256: sha256(table) };
  const text = renderArrayScript(plan, part, ctx.profile.name, chunk.length);
  if (ctx.check) {
    const problems = await checkSyntax(text);
    if (problems.length > 0) throw new RunError(problems[0]!.message, "script", "check_failed");
  }
  const path = await placeFor(`${dir}/job.sbatch`, text);
  await writeRunFiles(dir, [
    [part.tablePath, table],
    [path, text],
  ]);
  const rendered: RenderedPart = { path, sha256: sha256(text), table: part.tablePath, spec, id, name, logs: logPatterns(dir, true) };
  chunk.forEach((member, index) => {
    member.part = rendered;
    member.index = index;
  });
}

/** A string command runs as `bash -c LINE` in an array task (the table holds argv only). */
function argvOf(plan: JobPlan): string[] {
  return "argv" in plan.command ? plan.command.argv : ["bash", "-c", plan.command.shell];
}

function arrayBaseName(members: ArrayMember[]): string {
  const common = (key: "group" | "variant") => {
    const values = new Set(members.map((m) => m[key]));
    const [only] = values;
    return values.size === 1 && typeof only === "string" && only !== "" ? only : undefined;
  };
  const base = common("group") ?? common("variant") ?? "runs";
  const prefix = members[0]!.sample ? "sample-" : "";
  return prefix + base.replace(/[^A-Za-z0-9_.+=@,-]+/g, "_").slice(0, 100);
}
