/**
 * A site's documented limits, as profile data: per partition (nodes, time, cores and GPUs per node,
 * memory, submit and run limits) and the array size, each with the source it was read from. A
 * request beyond one is refused when rendering (a record error naming the limit and its source),
 * not hours later by slurmctld or never by a job that stays PENDING; `--force` renders anyway.
 */
import { parseDuration, parseMemory } from "@slurmpipe/core";
import * as z from "zod";

/** One limit and where it was read (a URL and section, or a sites.md fact id). */
const limit = <T extends z.ZodTypeAny>(value: T) => z.strictObject({ value, source: z.string().min(1) });
const count = limit(z.number().int().nonnegative());
const text = limit(z.string().min(1));

export const PartitionLimits = z.strictObject({
  max_nodes: count.optional(),
  /** Slurm duration, e.g. 3-00:00:00. */
  max_time: text.optional(),
  /** Cores a job can use per node (LUMI-G: 56 of 64). */
  cores_per_node: count.optional(),
  gpus_per_node: count.optional(),
  max_gpus_per_job: count.optional(),
  min_gpus_per_job: count.optional(),
  /** Memory a job can request per node, e.g. 480G. */
  mem_per_node: text.optional(),
  /** Jobs (array tasks count one each) a user may have pending and running in the partition. */
  max_submit_jobs: count.optional(),
  max_running_jobs: count.optional(),
});
export type PartitionLimits = z.infer<typeof PartitionLimits>;

export const SiteLimits = z.strictObject({
  /** The day the values were checked against their sources (YYYY-MM-DD). */
  checked: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "expected a date YYYY-MM-DD"),
  max_array_size: count.optional(),
  partitions: z.record(z.string(), PartitionLimits).optional(),
  /** Limits of a QoS (e.g. Olivia's devel), checked for a request with that --qos. */
  qos: z.record(z.string(), PartitionLimits).optional(),
});
export type SiteLimits = z.infer<typeof SiteLimits>;

/** A user's profile extending a site one overrides single limits: partitions merge key by key. */
export function mergeLimits(parent: SiteLimits | undefined, child: SiteLimits): SiteLimits {
  if (!parent) return child;
  const merge = (a: Record<string, PartitionLimits> = {}, b: Record<string, PartitionLimits> = {}) => {
    const out = { ...a };
    for (const [name, p] of Object.entries(b)) out[name] = { ...(out[name] ?? {}), ...p };
    return out;
  };
  return { ...parent, ...child, partitions: merge(parent.partitions, child.partitions), qos: merge(parent.qos, child.qos) };
}

export interface LimitProblem {
  /** The resources key the problem is about (`resources.<field>`). */
  field: string;
  message: string;
}

/** What a record carries for slurm-submit: the partition's submit and run limits (script.site_limits). */
export interface RecordSiteLimits {
  profile: string;
  partition: string;
  checked: string;
  max_submit_jobs?: number;
  max_running_jobs?: number;
  source?: string;
}

export function recordSiteLimits(profileName: string, limits: SiteLimits | undefined, partition: unknown): RecordSiteLimits | undefined {
  const p = typeof partition === "string" ? limits?.partitions?.[partition] : undefined;
  if (!limits || !p || (!p.max_submit_jobs && !p.max_running_jobs)) return undefined;
  return {
    profile: profileName,
    partition: partition as string,
    checked: limits.checked,
    ...(p.max_submit_jobs ? { max_submit_jobs: p.max_submit_jobs.value } : {}),
    ...(p.max_running_jobs ? { max_running_jobs: p.max_running_jobs.value } : {}),
    source: (p.max_submit_jobs ?? p.max_running_jobs)!.source,
  };
}

/** Every limit of the request's partition that the resolved resources exceed. */
export function limitProblems(resources: Record<string, string | number>, limits: SiteLimits | undefined): LimitProblem[] {
  if (!limits) return [];
  const { partition, qos } = resources;
  const partitionLimits = typeof partition === "string" ? limits.partitions?.[partition] : undefined;
  const qosLimits = typeof qos === "string" ? limits.qos?.[qos] : undefined;
  return [
    ...(partitionLimits ? problemsOf(resources, partitionLimits, `partition ${partition}`, limits.checked) : []),
    ...(qosLimits ? problemsOf(resources, qosLimits, `QoS ${qos}`, limits.checked) : []),
  ];
}

function problemsOf(resources: Record<string, string | number>, p: PartitionLimits, where: string, checked: string): LimitProblem[] {
  const problems: LimitProblem[] = [];
  const over = (field: string, what: string, have: string | number, l: { value: string | number; source: string }, relation = "at most") =>
    problems.push({ field, message: `${what} ${have} is beyond ${where}'s limit (${relation} ${l.value}; source: ${l.source}, checked ${checked})` });
  const num = (key: string) => (resources[key] === undefined ? undefined : Number(resources[key]));
  const nodes = num("nodes") ?? 1;
  const gpusPerNode = num("gpus_per_node") ?? (num("gpus") !== undefined ? Math.ceil(num("gpus")! / nodes) : undefined);
  const totalGpus = num("gpus") ?? (gpusPerNode !== undefined ? gpusPerNode * nodes : 0);

  if (p.max_nodes && nodes > p.max_nodes.value) over("nodes", "nodes", nodes, p.max_nodes);
  if (p.max_time && resources.time !== undefined) {
    const have = parseDuration(String(resources.time));
    const max = parseDuration(p.max_time.value);
    // UNLIMITED (null) asks for more than any finite limit.
    if (typeof max === "number" && (have === null || (typeof have === "number" && have > max))) over("time", "time", resources.time, p.max_time);
  }
  if (p.gpus_per_node && gpusPerNode !== undefined && gpusPerNode > p.gpus_per_node.value) over(resources.gpus_per_node !== undefined ? "gpus_per_node" : "gpus", "GPUs per node", gpusPerNode, p.gpus_per_node);
  if (p.max_gpus_per_job && totalGpus > p.max_gpus_per_job.value) over(resources.gpus !== undefined ? "gpus" : "gpus_per_node", "GPUs per job", totalGpus, p.max_gpus_per_job);
  if (p.min_gpus_per_job && totalGpus < p.min_gpus_per_job.value) over("gpus_per_node", "GPUs per job", totalGpus, p.min_gpus_per_job, "at least");

  if (p.cores_per_node) {
    const tasksPerNode = num("ntasks_per_node") ?? (num("ntasks") !== undefined ? Math.ceil(num("ntasks")! / nodes) : 1);
    const cpt = num("cpus_per_task");
    const cpg = num("cpus_per_gpu");
    const cores = cpt !== undefined ? cpt * tasksPerNode : cpg !== undefined && gpusPerNode !== undefined ? cpg * gpusPerNode : undefined;
    const field = cpt !== undefined ? "cpus_per_task" : "cpus_per_gpu";
    if (cores !== undefined && cores > p.cores_per_node.value) over(field, "cores per node", cores, p.cores_per_node);
  }
  if (p.mem_per_node) {
    const max = parseMemory(p.mem_per_node.value);
    const perNode = memoryPerNode(resources, gpusPerNode);
    if (typeof max === "number" && perNode && perNode.bytes > max) over(perNode.field, "memory per node", perNode.text, p.mem_per_node);
  }
  return problems;
}

/** The memory a request asks for on one node, from whichever of --mem / --mem-per-gpu / --mem-per-cpu it uses. */
function memoryPerNode(resources: Record<string, string | number>, gpusPerNode: number | undefined): { bytes: number; field: string; text: string } | undefined {
  const mem = (key: string) => (resources[key] === undefined ? undefined : parseMemory(String(resources[key])));
  const m = mem("mem");
  // --mem=0 means all the memory of the node: never over.
  if (typeof m === "number") return m === 0 ? undefined : { bytes: m, field: "mem", text: String(resources.mem) };
  const perGpu = mem("mem_per_gpu");
  if (typeof perGpu === "number" && gpusPerNode) return { bytes: perGpu * gpusPerNode, field: "mem_per_gpu", text: `${resources.mem_per_gpu} x ${gpusPerNode} GPUs` };
  const perCpu = mem("mem_per_cpu");
  const tasks = resources.ntasks_per_node === undefined ? 1 : Number(resources.ntasks_per_node);
  const cpus = resources.cpus_per_task === undefined ? undefined : Number(resources.cpus_per_task) * tasks;
  if (typeof perCpu === "number" && cpus) return { bytes: perCpu * cpus, field: "mem_per_cpu", text: `${resources.mem_per_cpu} x ${cpus} CPUs` };
  return undefined;
}
