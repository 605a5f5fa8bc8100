/**
 * Cluster profiles are data: YAML files (shipped ones in ../profiles, or the user's own via
 * `--profile FILE`). A profile may `extends:` another one and override only what differs.
 */
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "@slurmpipe/core";
import { type Document, LineCounter, isMap, isScalar, isSeq, parseDocument } from "yaml";
import * as z from "zod";
import { RESOURCE_KEYS, type ResourceKey, normalizeKey, validateValue } from "./directives.ts";
import { SiteLimits, mergeLimits } from "./limits.ts";

export const BUILTIN_PROFILE_NAMES = ["generic", "local", "lumi", "olivia"] as const;

const scalar = z.union([z.string(), z.number()]);
/** Environment values in a profile are shell text, expanded when the job runs (like `$SLURM_NODEID`). */
const envMap = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "not a valid environment variable name"), scalar.transform(String));

const resourceShape = Object.fromEntries(RESOURCE_KEYS.map((k) => [k, scalar.optional()])) as Record<string, z.ZodOptional<typeof scalar>>;

export const ProfileResources = z.strictObject({
  ...resourceShape,
  /** Further directives, written as given (`--exclusive`, `--gres=gpu:1`). */
  extra: z.array(z.string()).optional(),
});

export const Launcher = z.discriminatedUnion("type", [
  /** The command runs directly in the batch shell. */
  z.strictObject({ type: z.literal("none") }),
  /** `srun [args] <command>`: a job step (accounting per step, one task per node or as requested). */
  z.strictObject({ type: z.literal("srun"), args: z.array(z.string()).optional() }),
  /** `[srun] apptainer exec [args] [--bind ...] <container> bash -c "<venv activation> <command>"`. */
  z.strictObject({
    type: z.literal("apptainer"),
    container: z.string().min(1).optional(),
    /** The container runtime's command: LUMI ships SingularityCE (`singularity`), not Apptainer. */
    runtime: z.enum(["apptainer", "singularity"]).optional(),
    args: z.array(z.string()).optional(),
    /** Host paths made visible in the container (`--bind P`); a container sees only $HOME, the working directory and /tmp by default. */
    binds: z.array(z.string().min(1)).optional(),
    /** Further binds only for multi-node jobs (the host's interconnect libraries). */
    binds_multinode: z.array(z.string().min(1)).optional(),
    /** Put `srun` in front of the container (one container per task). */
    srun: z.boolean().optional(),
  }),
]);
export type Launcher = z.infer<typeof Launcher>;

export const ProfileSchema = z.strictObject({
  /** Another profile (built-in name or file, relative to this one) whose values this one overrides. */
  extends: z.string().optional(),
  description: z.string().optional(),
  resources: ProfileResources.optional(),
  /** `module use` lines (module directories), written before the module loads. */
  module_use: z.array(z.string()).optional(),
  /** `module load` lines, one per entry, in order. */
  modules: z.array(z.string()).optional(),
  /** Exported in the job, in order; values are shell text. */
  env: envMap.optional(),
  /** Exported only when the job spans more than one node. */
  env_multinode: envMap.optional(),
  /** Comment line written above the multi-node exports. */
  env_multinode_comment: z.string().optional(),
  /** Comment lines written into every script before the cluster environment (site guidance, e.g. where to stage data). */
  notes: z.array(z.string().regex(/^[^\r\n]*$/, "one line each")).optional(),
  /** Shell lines run after the environment is set up, before the command. */
  setup: z.array(z.string()).optional(),
  /** A virtualenv directory: `source <venv>/bin/activate` before the command (inside the container for apptainer). */
  venv: z.string().optional(),
  venv_comment: z.string().optional(),
  launcher: Launcher.optional(),
  /**
   * Multi-node jobs whose command is `python SCRIPT ...`: one task per node running
   * `torchrun --nnodes=$SLURM_NNODES --nproc_per_node=<gpus per node>` with a c10d rendezvous on
   * the first node's host name (unless the run asks for several tasks per node itself).
   */
  /**
   * Jobs of several tasks (one per GPU) in a container: the PyTorch rendezvous variables, MASTER_ADDR
   * (the first node), MASTER_PORT, WORLD_SIZE, LOCAL_WORLD_SIZE, and per task RANK and LOCAL_RANK.
   */
  task_rank_env: z.strictObject({ source: z.string().optional() }).optional(),
  /** Multi-node jobs without a task layout of their own run one task per GPU (`--ntasks-per-node` = GPUs per node). */
  multinode_task_per_gpu: z.strictObject({ source: z.string().optional() }).optional(),
  multinode_torchrun: z.strictObject({ port: z.number().int().min(1).max(65535).optional(), source: z.string().optional() }).optional(),
  sample: z
    .strictObject({
      /** Arguments appended to the command for a sample run (scope only: steps, checkpointing, validation). */
      overrides: z.array(z.string()).optional(),
      time: z.string().optional(),
      /** Resources of a sample run (the site's quick-start partition or QoS, fewer GPUs); command-line flags still win. */
      resources: z.strictObject(resourceShape).optional(),
    })
    .optional(),
  requeue_on_signal: z
    .strictObject({
      enabled: z.boolean().optional(),
      /** Seconds before the time limit that Slurm sends SIGTERM to the batch shell (0-65535). */
      seconds: z.number().int().min(1).max(65535).optional(),
      /** After the training process exits on the warning, `scontrol requeue` the job so it resumes from its checkpoint. */
      self_requeue: z.boolean().optional(),
    })
    .optional(),
  max_array_size: z.number().int().positive().optional(),
  /** The site's documented limits with their sources, enforced on every render (limits.ts). */
  limits: SiteLimits.optional(),
  /**
   * Full-node jobs (`gpus_per_node` GPUs): one task per GPU unless the run sets ntasks_per_node, and
   * with that many tasks per node, `srun_args` (the site's CPU binding) on the launch.
   */
  full_node: z
    .strictObject({
      gpus_per_node: z.number().int().positive(),
      ntasks_per_node: z.number().int().positive(),
      srun_args: z.array(z.string()),
      source: z.string().optional(),
    })
    .optional(),
  /**
   * Upper limits of the site, applied after merging: a larger request is lowered (with a warning),
   * 0 drops the directive (a cluster without GPUs). E.g. the local test cluster has no GPUs.
   */
  clamp: z.strictObject(Object.fromEntries(RESOURCE_KEYS.map((k) => [k, scalar.optional()])) as Record<string, z.ZodOptional<typeof scalar>>).optional(),
  /** Settings that must be set after merging (e.g. `account`, `launcher.container`). */
  require: z.array(z.string()).optional(),
  /** What to tell the user when a required setting is missing, by setting (e.g. which container to use). */
  require_hints: z.record(z.string(), z.string()).optional(),
});
export type Profile = z.infer<typeof ProfileSchema> & { name: string; source: string };

export class ProfileError extends UsageError {}

/** Where the shipped profiles live next to this module (src/ or dist/). */
export const builtinProfileDir = resolve(dirname(fileURLToPath(import.meta.url)), "../profiles");

export interface ProfileSources {
  /** Built-in profile texts by name; the standalone CLI passes the ones bundled into it. */
  builtins?: Record<string, string>;
  cwd?: string;
}

/** Loads a built-in profile by name or a YAML file by path, following `extends`. */
export async function loadProfile(spec: string, sources: ProfileSources = {}, seen: string[] = []): Promise<Profile> {
  const isBuiltin = (BUILTIN_PROFILE_NAMES as readonly string[]).includes(spec) && !/[/\\]|\.ya?ml$/.test(spec);
  let text: string;
  let source: string;
  if (isBuiltin) {
    source = `profile ${spec}`;
    text = sources.builtins?.[spec] ?? (await readFile(resolve(builtinProfileDir, `${spec}.yaml`), "utf8"));
  } else {
    source = resolve(sources.cwd ?? process.cwd(), spec);
    try {
      text = await readFile(source, "utf8");
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const hint = err.code === "ENOENT" ? ` (built-in profiles: ${BUILTIN_PROFILE_NAMES.join(", ")})` : "";
      throw new ProfileError(`--profile ${spec}: cannot read ${source}: ${err.code ?? err.message}${hint}`);
    }
  }
  if (seen.includes(source)) throw new ProfileError(`${source}: extends cycle: ${[...seen, source].join(" -> ")}`);
  const own = parseProfileText(text, source);
  checkProfileValues(own, source);
  const name = isBuiltin ? spec : source;
  if (!own.extends) return { ...own, name, source };
  const parentSpec = BUILTIN_PROFILE_NAMES.includes(own.extends as never) ? own.extends : resolve(isBuiltin ? builtinProfileDir : dirname(source), own.extends);
  const parent = await loadProfile(parentSpec, sources, [...seen, source]);
  return { ...mergeProfiles(parent, own), name, source };
}

/** Time, memory and count formats of a profile's resources, clamp limits and sample time: a bad one is a bad profile (exit 2). */
function checkProfileValues(profile: z.infer<typeof ProfileSchema>, source: string): void {
  const check = (where: string, key: ResourceKey, value: string | number | undefined) => {
    const problem = value === undefined ? undefined : validateValue(key, value)[0];
    if (problem) throw new ProfileError(`${source}: key "${where}": ${problem}`);
  };
  const resources = (profile.resources ?? {}) as Record<string, string | number | undefined>;
  for (const key of RESOURCE_KEYS) {
    check(`resources.${key}`, key, resources[key]);
    // A clamp of 0 drops the directive (a cluster without GPUs): allowed for every key.
    if (profile.clamp?.[key] !== 0) check(`clamp.${key}`, key, profile.clamp?.[key]);
  }
  check("sample.time", "time", profile.sample?.time);
  const sampleResources = (profile.sample?.resources ?? {}) as Record<string, string | number | undefined>;
  for (const key of RESOURCE_KEYS) check(`sample.resources.${key}`, key, sampleResources[key]);
  for (const [name, p] of [...Object.entries(profile.limits?.partitions ?? {}), ...Object.entries(profile.limits?.qos ?? {})]) {
    check(`limits.partitions.${name}.max_time.value`, "time", p.max_time?.value);
    check(`limits.partitions.${name}.mem_per_node.value`, "mem", p.mem_per_node?.value);
  }
}

/** Parses and validates one profile document; errors name the file, the key and the line. */
export function parseProfileText(text: string, source: string): z.infer<typeof ProfileSchema> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, lineCounter: lines });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new ProfileError(`${source}:${lines.linePos(e.pos[0]).line}: invalid YAML: ${e.message.split("\n")[0]}`);
  }
  const raw = doc.toJS() ?? {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw new ProfileError(`${source}: a profile must be a YAML mapping`);
  // Directive keys may be written with dashes, as on the sbatch command line.
  if (raw.resources && typeof raw.resources === "object" && !Array.isArray(raw.resources)) {
    raw.resources = Object.fromEntries(Object.entries(raw.resources as object).map(([k, v]) => [normalizeKey(k), v]));
  }
  const result = ProfileSchema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const keys = issue.code === "unrecognized_keys" ? issue.keys : [];
  const keyPath = [...issue.path.map(String), ...(keys.length > 0 ? [keys[0]!] : [])];
  const offset = keyOffset(doc, keyPath);
  const where = offset === undefined ? "" : `:${lines.linePos(offset).line}`;
  throw new ProfileError(`${source}${where}: key "${keyPath.join(".") || "(top level)"}": ${issue.message}`);
}

/** Text offset of the deepest existing key on `path` (a missing key has none; its parent does). */
function keyOffset(doc: Document, path: string[]): number | undefined {
  for (let n = path.length; n > 0; n--) {
    const parent = n > 1 ? doc.getIn(path.slice(0, n - 1).map(dashTolerant), true) : doc.contents;
    if (isMap(parent)) {
      const name = path[n - 1]!;
      const pair = parent.items.find((item) => isScalar(item.key) && normalizeKey(String(item.key.value)) === normalizeKey(name));
      if (pair && isScalar(pair.key) && pair.key.range) return pair.key.range[0];
    }
    if (isSeq(parent) && /^\d+$/.test(path[n - 1]!)) {
      const node = parent.items[Number(path[n - 1])] as { range?: [number, number, number] } | undefined;
      if (node?.range) return node.range[0];
    }
  }
  return undefined;
}

function dashTolerant(p: string): string | number {
  return /^\d+$/.test(p) ? Number(p) : p;
}

/** `child` overrides `parent`: objects merge key by key, lists and scalars are replaced. */
export function mergeProfiles<T extends z.infer<typeof ProfileSchema>>(parent: T, child: z.infer<typeof ProfileSchema>): T {
  const out: Record<string, unknown> = { ...parent };
  for (const [key, value] of Object.entries(child)) {
    if (key === "extends" || value === undefined) continue;
    const prev = out[key];
    if (key === "limits") {
      out[key] = mergeLimits(prev as SiteLimits | undefined, value as SiteLimits);
      continue;
    }
    out[key] = isPlainObject(prev) && isPlainObject(value) && key !== "launcher" ? { ...prev, ...value } : value;
  }
  delete out.extends;
  return out as T;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
