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
  type RemoteOptions,
  readNdjsonInputs,
  remoteHome,
  runSlurm,
  sha256,
  zodField,
} from "@slurmpipe/core";
import { type ArrayGroup, type ArrayMember, addToGroup, memberOutput, renderArrays } from "./arrays.ts";
import { checkDirectives, checkSyntax } from "./check.ts";
import { type Profile, loadProfile } from "./profile.ts";
import { outputRecord } from "./records.ts";
import { type ScriptStore, localStore, remoteStore } from "./store.ts";
import { OverrideReport, type RenderedWith, checkFlagValues, renderedWith } from "./rerun.ts";
import { type JobPlan, type Overrides, RunError, planJob } from "./resolve.ts";
import { logPatterns, renderRunScript } from "./script.ts";

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
  /**
   * Write the scripts on HOST (through one multiplexed ssh connection): `out` and each run's `dir`
   * are paths on HOST (relative ones from the login directory there) and the records name them.
   */
  remote?: RemoteOptions;
}

interface Item {
  record: Record<string, unknown>;
  source: string;
  line: number;
  plan?: JobPlan;
  /** Set once the record is final (rendered, failed or passed through). */
  output?: Record<string, unknown>;
}

type Pending = { output: Record<string, unknown> } | ArrayMember;

export async function render(options: RenderOptions): Promise<number> {
  const log = options.log;
  checkFlagValues(options.overrides ?? {});
  const profile = await loadProfile(options.profile, { builtins: options.builtinProfiles, cwd: options.cwd });
  // Remote: paths are HOST's, relative ones read from the login directory there (one `pwd`).
  const cwd = options.remote ? await remoteHome(options.remote) : options.cwd;
  const store: ScriptStore = options.remote ? remoteStore(options.remote) : localStore;
  const outDir = resolve(cwd, options.out ?? "runs");
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
    ...(options.remote ? { remote: options.remote.host } : {}),
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
        item.plan = planJob(run, { profile, overrides: options.overrides ?? {}, outDir, cwd, sample: Boolean(options.sample) });
        for (const w of item.plan.warnings) if (!warned.has(w) && warned.add(w)) log.warn(w);
        overrideReport.note(item.plan.run.name, item.plan.overridden);
        if (options.check) {
          const problems = checkDirectives(item.plan);
          if (problems.length > 0) throw new RunError(problems.map((p) => `${p.field}: ${p.message}`).join("; "), problems[0]!.field, "check_failed");
        }
        if (!options.array) item.output = await renderOne(value, item.plan, profile, Boolean(options.check), how, store);
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
    await renderArrays(groups, { profile, outDir, maxSize, limit: options.arrayLimit, check: Boolean(options.check), fail, store });
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

async function renderOne(raw: Record<string, unknown>, plan: JobPlan, profile: Profile, check: boolean, how: RenderedWith, store: ScriptStore): Promise<Record<string, unknown>> {
  const text = renderRunScript(plan, profile.name);
  if (check) {
    const problems = await checkSyntax(text);
    if (problems.length > 0) throw new RunError(problems[0]!.message, "script", "check_failed");
  }
  // A changed script goes to a file of its own: the old one may be what a queued job runs.
  const [path] = await store.put(plan.scriptDir, [[`${plan.scriptDir}/job.sbatch`, text]]);
  const siteLimits = plan.siteLimits ? { site_limits: plan.siteLimits } : {};
  return outputRecord(raw, plan, { path: path!, sha256: sha256(text), rendered_with: how, ...siteLimits }, logPatterns(plan.scriptDir, false));
}

async function resolveMaxArraySize(options: RenderOptions, profile: Profile, log: Logger): Promise<number> {
  if (options.maxArraySize !== undefined) return options.maxArraySize;
  const site = await (options.readMaxArraySize ?? (() => readMaxArraySizeFromSlurm(options.remote)))().catch(() => undefined);
  if (site !== undefined) log.debug(`MaxArraySize ${site} (scontrol show config)`);
  // Either source may be the stricter one (the profile describes the target site, scontrol the cluster we are on).
  const candidates = [site, profile.max_array_size, profile.limits?.max_array_size?.value].filter((n): n is number => typeof n === "number" && n > 0);
  return candidates.length > 0 ? Math.min(...candidates) : DEFAULT_MAX_ARRAY_SIZE;
}

export async function readMaxArraySizeFromSlurm(remote?: RemoteOptions): Promise<number | undefined> {
  const r = await runSlurm("scontrol", ["show", "config"], { attempts: 1, timeoutMs: 15_000, ...(remote ? { remote } : {}) });
  const m = /^MaxArraySize\s*=\s*(\d+)/m.exec(r.stdout);
  return m ? Number(m[1]) : undefined;
}
