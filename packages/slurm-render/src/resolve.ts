/**
 * Merges profile < run spec `resources` < CLI flags into one job plan per run, and checks
 * everything that would otherwise only fail at submission or inside the job.
 */
import { dirname, resolve as resolvePath } from "node:path";
import { type RunRecord, parseDuration, parseMemory, shellQuote } from "@slurmpipe/core";
import { RESOURCE_KEYS, RESOURCE_OPTIONS, type ResourceKey, directiveOptionName, normalizeKey, sameValue, validateValue } from "./directives.ts";
import { limitProblems, recordSiteLimits } from "./limits.ts";
import { dropOtherMemoryKeys, fullNode, totalTasks, torchrunLaunch } from "./layout.ts";
import { type EnvVar, type JobPlan, type OverriddenValue, type PlanOptions, RunError } from "./plan.ts";
import type { Launcher, Profile } from "./profile.ts";
import { sampleIdentity, sampleOverridesOf } from "./sample-plan.ts";

export * from "./plan.ts";
export { sampleIdentity };

const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.+=@,-]*$/;
const MAX_NAME_BYTES = 200;

export function planJob(input: RunRecord, options: PlanOptions): JobPlan {
  let run = input;
  const { profile, overrides } = options;
  const warnings: string[] = [];
  if (!SAFE_NAME.test(run.name) || Buffer.byteLength(run.name) > MAX_NAME_BYTES) {
    throw new RunError(
      `run name ${JSON.stringify(run.name)} is not safe as a directory and job name (letters, digits, _ . + = @ , - and at most ${MAX_NAME_BYTES} bytes)`,
      "name",
    );
  }
  // A sample is a run of its own (its own id, so its own job tag and ledger entry): see sampleIdentity.
  const sampleOverrides = options.sample ? sampleOverridesOf(run, overrides, profile) : undefined;
  const sample = sampleOverrides ? sampleIdentity(run, sampleOverrides) : undefined;
  if (sample) run = { ...run, id: sample.id, name: sample.name, sample_of: sample.sampleOf } as RunRecord;
  if (Buffer.byteLength(run.name) > MAX_NAME_BYTES) throw new RunError(`sample name ${JSON.stringify(run.name)} is longer than ${MAX_NAME_BYTES} bytes`, "name");
  const jobName = run.name;
  const scriptDir = resolvePath(options.outDir, jobName);
  // A sample works beside its full run (same depth, so relative paths in the command still
  // resolve) but never inside it: runs/tier3/<name> -> runs/tier3/sample-<name>.
  const runDir = !run.dir ? scriptDir : options.sample ? resolvePath(dirname(resolvePath(options.cwd, run.dir)), jobName) : resolvePath(options.cwd, run.dir);

  // Layer 2: the run spec's resources (core schema keys; env/setup/extra handled apart).
  const runResources: Record<string, unknown> = { ...(run.resources ?? {}) };
  const runEnv = takeRecord(runResources, "env", "resources.env");
  const runSetup = takeStrings(runResources, "setup", "resources.setup");
  const runExtra = takeStrings(runResources, "extra", "resources.extra");
  const resources: Record<string, string | number> = {};
  const profileResources: Record<string, unknown> = profile.resources ?? {};
  for (const key of RESOURCE_KEYS) {
    const value = profileResources[key];
    if (typeof value === "string" || typeof value === "number") resources[key] = value;
  }
  for (const [rawKey, value] of Object.entries(runResources)) {
    const key = normalizeKey(rawKey);
    if (value === undefined || value === null) continue;
    if (!(RESOURCE_KEYS as string[]).includes(key)) {
      throw new RunError(`unknown resource "${rawKey}" (known: ${[...RESOURCE_KEYS, "extra", "env", "setup"].join(", ")})`, `resources.${rawKey}`);
    }
    if (typeof value !== "string" && typeof value !== "number") throw new RunError(`expected a string or number, got ${JSON.stringify(value)}`, `resources.${rawKey}`);
    dropOtherMemoryKeys(resources, key);
    resources[key] = value;
  }
  // Layer 3: CLI flags. The record's own different value is reported (a suggested fix applied
  // with jq and a --mem in the render flags must not cancel each other silently).
  const overridden: OverriddenValue[] = [];
  for (const [key, value] of Object.entries(overrides.resources ?? {}) as [ResourceKey, string | number | undefined][]) {
    if (value === undefined) continue;
    const own = runOwnValue(runResources, key);
    if (own !== undefined && !sameValue(key, value, own)) overridden.push({ key, flag: value, record: own });
    dropOtherMemoryKeys(resources, key);
    resources[key] = value;
  }

  applyClamp(resources, profile, warnings);

  if (options.sample) {
    for (const [key, value] of Object.entries(profile.sample?.resources ?? {})) {
      if (value === undefined || overrides.resources?.[key as ResourceKey] !== undefined) continue;
      dropOtherMemoryKeys(resources, key);
      resources[key] = value;
    }
    resources.time = overrides.resources?.time ?? profile.sample?.time ?? "00:15:00";
    resources.nodes = 1;
  }
  const srunArgs = fullNode(resources, profile);
  const command = commandOf(run);
  const torchrun = torchrunLaunch(resources, profile, command, warnings, run.name);

  // Always, not only with --check: sbatch would refuse the script (or worse, read it otherwise).
  const problems = RESOURCE_KEYS.flatMap((key) => (resources[key] === undefined ? [] : validateValue(key, resources[key]).map((message) => ({ key, message }))));
  if (problems.length > 0) {
    const message = problems.map((p, i) => (i === 0 ? p.message : `resources.${p.key}: ${p.message}`)).join("; ");
    throw new RunError(message, `resources.${problems[0]!.key}`, "invalid_directive");
  }
  // Always, not only with --check: slurmctld would refuse the job, or leave it PENDING forever.
  const overLimits = limitProblems(resources, profile.limits);
  if (overLimits.length > 0 && !overrides.force) {
    // The first problem's field is the error's field (named once); further ones name their own.
    const message = overLimits.map((p, i) => (i === 0 ? p.message : `resources.${p.field}: ${p.message}`)).join("; ");
    throw new RunError(message, `resources.${overLimits[0]!.field}`, "over_site_limit");
  }
  const known = Object.keys(profile.limits?.partitions ?? {});
  if (known.length > 0 && typeof resources.partition === "string" && !known.includes(resources.partition)) {
    warnings.push(`profile ${profile.name}: partition ${resources.partition} is not one of the partitions it knows (${known.join(", ")}): its limits are not checked`);
  }
  for (const p of overLimits) warnings.push(`${run.name}: --force: resources.${p.field}: ${p.message}`);

  const extra = mergeExtra([...(profile.resources?.extra ?? []), ...runExtra, ...(overrides.extra ?? [])]);

  const env = mergeEnv([
    ...Object.entries(profile.env ?? {}).map(([name, value]) => ({ name, value, raw: true })),
    ...Object.entries(runEnv).map(([name, value]) => ({ name, value, raw: false })),
    ...Object.entries(overrides.env ?? {}).map(([name, value]) => ({ name, value, raw: false })),
  ]);
  for (const v of env) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v.name)) throw new RunError(`"${v.name}" is not a valid environment variable name`, `resources.env.${v.name}`);
  const nodes = Number(resources.nodes ?? 1);
  const envMultinode = nodes > 1 ? Object.entries(profile.env_multinode ?? {}).map(([name, value]) => ({ name, value, raw: true })) : [];

  let launcher: Launcher = profile.launcher ?? { type: "none" };
  if (overrides.container !== undefined) {
    if (launcher.type !== "apptainer") launcher = { type: "apptainer", args: ["--nv"] };
    launcher = { ...launcher, container: overrides.container };
  }
  const venv = overrides.venv ?? profile.venv;
  const binds = launcher.type === "apptainer" ? [...(launcher.binds ?? []), ...(nodes > 1 ? (launcher.binds_multinode ?? []) : []), ...(overrides.binds ?? [])] : [];
  if (overrides.binds?.length && launcher.type !== "apptainer") throw new RunError("--bind needs a container (--container or a profile with a container launcher)", "binds", "missing_setting");

  if (sampleOverrides) {
    if (sampleOverrides.length === 0) warnings.push(`${run.name}: no sample overrides (profile sample.overrides, the run's sample.overrides or --sample-override): only the 15-minute limit shortens this run`);
    if ("argv" in command) command.argv.push(...sampleOverrides);
    else command.shell = [command.shell, ...sampleOverrides.map((o) => shellQuote(o))].join(" ");
  }

  let requeue: JobPlan["requeue"];
  const rq = profile.requeue_on_signal;
  const enabled = overrides.requeueOnSignal === undefined ? rq?.enabled === true : overrides.requeueOnSignal !== false;
  if (enabled) {
    const seconds = typeof overrides.requeueOnSignal === "number" ? overrides.requeueOnSignal : (rq?.seconds ?? 360);
    requeue = { seconds, selfRequeue: rq?.self_requeue ?? true };
  }

  const plan: JobPlan = {
    run,
    ...(sample ? { sampleOf: sample.sampleOf } : {}),
    jobName,
    scriptDir,
    runDir,
    resources,
    extra,
    notes: profile.notes ?? [],
    moduleUse: profile.module_use ?? [],
    modules: profile.modules ?? [],
    env,
    envMultinode,
    envMultinodeComment: profile.env_multinode_comment,
    setup: [...(profile.setup ?? []), ...runSetup, ...(overrides.setup ?? [])],
    venv,
    venvComment: profile.venv_comment,
    launcher,
    binds,
    srunArgs,
    ...(torchrun ? { torchrun } : {}),
    ...(!torchrun && profile.task_rank_env && launcher.type === "apptainer" && totalTasks(resources) > 1 ? { rankEnv: true } : {}),
    siteLimits: recordSiteLimits(profile.name, profile.limits, resources.partition),
    command,
    requeue,
    literalEnv: { ...runEnv, ...(overrides.env ?? {}) },
    runSetup: [...runSetup, ...(overrides.setup ?? [])],
    warnings,
    overridden,
  };
  checkRequired(plan, profile);
  return plan;
}

/** The run spec's own value of a key (written with `_` or `-`), if it has one. */
function runOwnValue(runResources: Record<string, unknown>, key: ResourceKey): string | number | undefined {
  for (const [rawKey, value] of Object.entries(runResources)) {
    if (normalizeKey(rawKey) === key && (typeof value === "string" || typeof value === "number")) return value;
  }
  return undefined;
}

function commandOf(run: RunRecord): JobPlan["command"] {
  const c = run.command;
  if (c === undefined || (Array.isArray(c) && c.length === 0) || (typeof c === "string" && c.trim() === "")) {
    throw new RunError("the run has no command", "command");
  }
  if (typeof c === "string") return { shell: c };
  c.forEach((word, i) => {
    if (word.includes("\u0000")) throw new RunError("contains a NUL byte, which no program argument can hold", `command[${i}]`);
  });
  return { argv: [...c] };
}

function checkRequired(plan: JobPlan, profile: Profile): void {
  for (const req of profile.require ?? []) {
    const value = req === "launcher.container" ? (plan.launcher.type === "apptainer" ? plan.launcher.container : undefined) : req === "venv" ? plan.venv : plan.resources[normalizeKey(req)];
    if (value === undefined || value === "") {
      const flag = req === "launcher.container" ? "--container" : `--${req.replace(/_/g, "-")}`;
      const hint = profile.require_hints?.[req];
      throw new RunError(`profile ${profile.name} needs ${req}: set ${flag}${req.includes(".") ? "" : ` or resources.${req} in the run spec`}${hint ? `. ${hint}` : ""}`, req === "launcher.container" ? "launcher.container" : `resources.${req}`, "missing_setting");
    }
  }
  if (plan.launcher.type === "apptainer" && !plan.launcher.container) {
    throw new RunError("the apptainer launcher needs a container image: set --container PATH.sif", "launcher.container", "missing_setting");
  }
}

/** Lowers requests above the profile's `clamp` limits; a limit of 0 removes the directive. */
function applyClamp(resources: Record<string, string | number>, profile: Profile, warnings: string[]): void {
  for (const [key, limit] of Object.entries(profile.clamp ?? {})) {
    const value = resources[key];
    if (value === undefined || limit === undefined) continue;
    const size = (v: string | number) => (key === "time" ? parseDuration(String(v)) : key.startsWith("mem") ? parseMemory(String(v)) : Number(v));
    const max = size(limit);
    if (max === 0) {
      delete resources[key];
      warnings.push(`profile ${profile.name}: ${key} ${value} dropped (not available here)`);
      continue;
    }
    const have = size(value);
    if (typeof have !== "number" || typeof max !== "number" || Number.isNaN(have) || have <= max) continue;
    resources[key] = limit;
    warnings.push(`profile ${profile.name}: ${key} ${value} lowered to ${limit}`);
  }
}

/** Later directives replace earlier ones with the same option name. */
function mergeExtra(list: string[]): string[] {
  const byName = new Map<string, string>();
  for (const d of list) byName.set(directiveOptionName(d.trim()) ?? d.trim(), d.trim());
  return [...byName.values()];
}

function mergeEnv(list: EnvVar[]): EnvVar[] {
  const byName = new Map<string, EnvVar>();
  for (const v of list) byName.set(v.name, v);
  return [...byName.values()];
}

function takeRecord(obj: Record<string, unknown>, key: string, field: string): Record<string, string> {
  const value = obj[key];
  delete obj[key];
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new RunError("expected an object of NAME: value", field);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") throw new RunError(`expected a string, got ${JSON.stringify(v)}`, `${field}.${k}`);
    out[k] = String(v);
  }
  return out;
}

function takeStrings(obj: Record<string, unknown>, key: string, field: string): string[] {
  const value = obj[key];
  delete obj[key];
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((x) => typeof x === "string")) throw new RunError("expected a list of strings", field);
  return value;
}

export { RESOURCE_OPTIONS };
