/**
 * The job plan: what planJob (resolve.ts) makes of a run spec, a profile and the CLI flags, and
 * the error a single bad run raises. Kept apart so the renderers can depend on the shape alone.
 */
import type { RunRecord } from "@slurmpipe/core";
import type { ResourceKey } from "./directives.ts";
import type { RecordSiteLimits } from "./limits.ts";
import type { Launcher, Profile } from "./profile.ts";

/** An environment variable: profile values are shell text (`raw`), run and CLI values literal. */
export interface EnvVar {
  name: string;
  value: string;
  raw: boolean;
}

/** What the CLI flags set (the last and strongest layer). */
export interface Overrides {
  resources?: Partial<Record<ResourceKey, string | number>>;
  extra?: string[];
  env?: Record<string, string>;
  setup?: string[];
  venv?: string;
  container?: string;
  sampleOverrides?: string[];
  /** Seconds, or false to turn off a profile's requeue-on-signal. */
  requeueOnSignal?: number | false | true;
  /** Host paths bound into the container (`--bind`), after the profile's. */
  binds?: string[];
  /** Render requests beyond the profile's site limits (a warning instead of an error). */
  force?: boolean;
}

export interface PlanOptions {
  profile: Profile;
  overrides: Overrides;
  outDir: string;
  cwd: string;
  sample: boolean;
}

export interface JobPlan {
  run: RunRecord;
  /** Sample runs: the id of the full run this is a sample of (`run` then has the sample's own id and name). */
  sampleOf?: string;
  /** Job name and directory name below --out (`sample-<name>` for sample runs). */
  jobName: string;
  /** Directory holding job.sbatch and logs/. */
  scriptDir: string;
  /** Directory the command runs in (the run's `dir`). */
  runDir: string;
  resources: Record<string, string | number>;
  extra: string[];
  notes: string[];
  moduleUse: string[];
  modules: string[];
  env: EnvVar[];
  envMultinode: EnvVar[];
  envMultinodeComment?: string;
  setup: string[];
  venv?: string;
  venvComment?: string;
  launcher: Launcher;
  /** Container binds (profile, multi-node, --bind), in order. */
  binds: string[];
  /** Arguments put after `srun` (the site's full-node CPU binding). */
  srunArgs: string[];
  /** Set the PyTorch rank variables for a job of several tasks (profile task_rank_env). */
  rankEnv?: boolean;
  /** Multi-node torchrun launch (profile multinode_torchrun): GPUs per node and rendezvous port. */
  torchrun?: { nprocPerNode: number; port: number };
  /** The partition's submit and run limits, for slurm-submit (script.site_limits). */
  siteLimits?: RecordSiteLimits;
  command: { argv: string[] } | { shell: string };
  requeue?: { seconds: number; selfRequeue: boolean; timeLimitS?: number };
  /** The layers' run-spec and CLI parts of env/setup, kept in the output record's resources. */
  literalEnv: Record<string, string>;
  runSetup: string[];
  warnings: string[];
  /** Values of the run's own `resources` that a command-line flag replaced with a different one. */
  overridden: OverriddenValue[];
}

/** A run's own resource value and the flag value that replaced it. */
export interface OverriddenValue {
  key: ResourceKey;
  flag: string | number;
  record: string | number;
}

/** A problem with one run: the record gets `error` and the stream goes on. */
export class RunError extends Error {
  constructor(
    message: string,
    readonly field?: string,
    readonly code = "invalid_run",
  ) {
    super(message);
  }
}
