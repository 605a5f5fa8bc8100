/**
 * How a job is laid out on a site's nodes, from the profile: which memory option wins, full-node
 * tasks and binding, and the multi-node launch (torchrun, or one task per GPU).
 */
import type { Profile } from "./profile.ts";
import type { JobPlan } from "./resolve.ts";

const MEMORY = ["mem", "mem_per_cpu", "mem_per_gpu"];

/** sbatch takes one of --mem, --mem-per-cpu, --mem-per-gpu: a layer that sets one replaces the lower layers' others. */
export function dropOtherMemoryKeys(resources: Record<string, string | number>, key: string): void {
  if (!MEMORY.includes(key)) return;
  for (const other of MEMORY) if (other !== key) delete resources[other];
}

/** A full-node job on a site with a documented full-node layout: one task per GPU, and the site's binding for it. */
export function fullNode(resources: Record<string, string | number>, profile: Profile): string[] {
  const unset = resources.ntasks_per_node === undefined && resources.ntasks === undefined;
  if (profile.multinode_task_per_gpu && unset && Number(resources.nodes ?? 1) > 1 && resources.gpus_per_node !== undefined) {
    resources.ntasks_per_node = Number(resources.gpus_per_node);
  }
  const full = profile.full_node;
  if (!full || Number(resources.gpus_per_node) !== full.gpus_per_node) return [];
  if (resources.ntasks_per_node === undefined && resources.ntasks === undefined) resources.ntasks_per_node = full.ntasks_per_node;
  return Number(resources.ntasks_per_node) === full.ntasks_per_node ? full.srun_args : [];
}

/** Tasks of the job: --ntasks, else --ntasks-per-node x nodes (1 when neither is given). */
export function totalTasks(resources: Record<string, string | number>): number {
  if (resources.ntasks !== undefined) return Number(resources.ntasks);
  return Number(resources.ntasks_per_node ?? 1) * Number(resources.nodes ?? 1);
}

const PYTHON = /^python(3(\.\d+)?)?$/;

/** A multi-node `python SCRIPT ...` on a site that documents torchrun: one task per node, torchrun starts one process per GPU. */
export function torchrunLaunch(resources: Record<string, string | number>, profile: Profile, command: JobPlan["command"], warnings: string[], name: string): JobPlan["torchrun"] {
  const t = profile.multinode_torchrun;
  if (!t || Number(resources.nodes ?? 1) <= 1) return undefined;
  // The run chose one task per GPU (or another layout) itself.
  if (resources.ntasks !== undefined || (resources.ntasks_per_node !== undefined && Number(resources.ntasks_per_node) !== 1)) return undefined;
  if (!("argv" in command) || !PYTHON.test(command.argv[0] ?? "") || command.argv.length < 2 || command.argv[1]!.startsWith("-")) {
    warnings.push(`${name}: multi-node on profile ${profile.name}: the command is not "python SCRIPT ...", so it runs once per node as given (start torchrun yourself, or ask for --ntasks-per-node)`);
    return undefined;
  }
  resources.ntasks_per_node = 1;
  return { nprocPerNode: Number(resources.gpus_per_node ?? 1), port: t.port ?? 29500 };
}
