/**
 * The resource keys slurm-render understands, the sbatch option each becomes and the command-line
 * flag that sets it. No imports: the CLI shell builds its options from this without loading the
 * library. Keys are the snake_case names of core's `Resources`; every key `k` has the flag `--k`
 * with `_` written `-` (a cross-command contract: summary-md prints `--mem 38G` to apply a fix).
 */
export const RESOURCE_OPTIONS = {
  account: "--account",
  partition: "--partition",
  qos: "--qos",
  reservation: "--reservation",
  nodes: "--nodes",
  ntasks: "--ntasks",
  ntasks_per_node: "--ntasks-per-node",
  gpus: "--gpus",
  gpus_per_node: "--gpus-per-node",
  gpus_per_task: "--gpus-per-task",
  gres: "--gres",
  cpus_per_task: "--cpus-per-task",
  cpus_per_gpu: "--cpus-per-gpu",
  mem: "--mem",
  mem_per_cpu: "--mem-per-cpu",
  mem_per_gpu: "--mem-per-gpu",
  time: "--time",
  constraint: "--constraint",
  exclude: "--exclude",
  nodelist: "--nodelist",
} as const;

export type ResourceKey = keyof typeof RESOURCE_OPTIONS;
export const RESOURCE_KEYS = Object.keys(RESOURCE_OPTIONS) as ResourceKey[];

/** Keys whose value is a whole number (sbatch refuses anything else). */
export const INTEGER_KEYS: ReadonlySet<ResourceKey> = new Set<ResourceKey>(["nodes", "ntasks", "ntasks_per_node", "gpus_per_node", "gpus_per_task", "cpus_per_task", "cpus_per_gpu"]);
/** Memory sizes. */
export const MEMORY_KEYS: ReadonlySet<ResourceKey> = new Set<ResourceKey>(["mem", "mem_per_cpu", "mem_per_gpu"]);

/** The command-line flag (without dashes) of a resource key: `gpus_per_node` -> `gpus-per-node`. */
export function flagName(key: ResourceKey): string {
  return key.replace(/_/g, "-");
}

/** The help text of a resource flag. */
export function flagHelp(key: ResourceKey): string {
  const option = `#SBATCH ${RESOURCE_OPTIONS[key]}`;
  if (key === "time") return `${option}, e.g. 02:00:00, 1-00:00:00, 90 (minutes) or UNLIMITED`;
  if (MEMORY_KEYS.has(key)) return `${option}, e.g. 32G or 4000M (whole number, unit K, M, G or T; bare = M)`;
  if (INTEGER_KEYS.has(key)) return `${option} (whole number)`;
  return option;
}
