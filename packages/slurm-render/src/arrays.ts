/**
 * --array: runs whose scripts would differ only in id, name, dir and argv share one array script
 * and a params table. Every record is held (compactly) until the input ends, since the number of
 * parts of an array is in every script path.
 */
import { resolve } from "node:path";
import { canonicalJson, contentId, sha256 } from "@slurmpipe/core";
import { checkSyntax } from "./check.ts";
import type { RecordSiteLimits } from "./limits.ts";
import type { Profile } from "./profile.ts";
import { identity, outputResources } from "./records.ts";
import type { RenderedWith } from "./rerun.ts";
import type { ScriptStore } from "./store.ts";
import { type JobPlan, RunError } from "./resolve.ts";
import { type ArrayPart, logPatterns, renderArrayScript, tableLine } from "./script.ts";

/** Where an input record came from. */
export interface Source {
  record: Record<string, unknown>;
  source: string;
  line: number;
}

/**
 * A run waiting for its array script. With --array no record can be written before the input
 * ends (the number of parts of an array is in every script path), so 100,000 runs wait in memory:
 * each keeps only what its output record and its table line need, not its plan and parsed record.
 */
export interface ArrayMember {
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
export interface ArrayGroup {
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
  siteLimits?: RecordSiteLimits;
}

/** Files the run under its array key, keeping only what its output record and table line need. */
export function addToGroup(groups: Map<string, ArrayGroup>, plan: JobPlan, item: Source, shared: Map<string, Record<string, unknown>>): ArrayMember {
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
export function memberOutput(member: ArrayMember, how: RenderedWith): Record<string, unknown> {
  if (member.failed) return member.failed;
  const part = member.part!;
  const record = JSON.parse(member.raw) as Record<string, unknown>;
  // Assignment keeps a field the input already had in its place and appends new ones in this order, as a spread does.
  record.dir = member.dir;
  record.resources = member.resources;
  record.script = {
    path: part.path,
    sha256: part.sha256,
    array: { index: member.index, table: part.table, spec: part.spec, id: part.id, name: part.name },
    rendered_with: how,
    ...(part.siteLimits ? { site_limits: part.siteLimits } : {}),
  };
  record.logs = part.logs;
  return record;
}

export interface ArrayContext {
  profile: Profile;
  outDir: string;
  maxSize: number;
  limit?: number;
  check: boolean;
  fail: (item: Source, e: unknown) => Record<string, unknown>;
  /** Where the files go: this machine or HOST (--remote). */
  store: ScriptStore;
}

/**
 * What must be identical for runs to share one array script: everything but id, name, dir and argv.
 * Group and priority too, so a sweep's variants stay separate jobs (monitored and submitted in order).
 */
function arrayKey(plan: JobPlan): string {
  const { run, jobName: _j, scriptDir: _s, runDir: _d, command: _c, literalEnv: _l, runSetup: _u, warnings: _w, overridden: _o, ...shared } = plan;
  return canonicalJson({ ...shared, group: run.group ?? null, priority: run.priority ?? null });
}

export async function renderArrays(groups: Map<string, ArrayGroup>, ctx: ArrayContext): Promise<void> {
  for (const { plan, members } of groups.values()) {
    // Array tasks count one job each against a per-user submit limit: a larger array is refused whole.
    const size = Math.min(ctx.maxSize, plan.siteLimits?.max_submit_jobs ?? Number.POSITIVE_INFINITY);
    const chunks: ArrayMember[][] = [];
    for (let i = 0; i < members.length; i += size) chunks.push(members.slice(i, i + size));
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
  // The script names the table's path, so the table is placed (and written) first.
  const [tablePath] = await ctx.store.put(dir, [[`${dir}/params.tbl`, table]]);
  const part: ArrayPart = { name, id, spec, dir, tablePath: tablePath!, tableSha256: sha256(table) };
  const text = renderArrayScript(plan, part, ctx.profile.name, chunk.length);
  if (ctx.check) {
    const problems = await checkSyntax(text);
    if (problems.length > 0) throw new RunError(problems[0]!.message, "script", "check_failed");
  }
  const [path] = await ctx.store.put(dir, [[`${dir}/job.sbatch`, text]]);
  const rendered: RenderedPart = { path: path!, sha256: sha256(text), table: part.tablePath, spec, id, name, logs: logPatterns(dir, true), ...(plan.siteLimits ? { siteLimits: plan.siteLimits } : {}) };
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
