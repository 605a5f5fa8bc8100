/**
 * Whether a run asked Slurm for GPUs. The GPU sanity flags (CPU_ONLY_SUSPECTED, NO_GPU_DEVICE_LINE)
 * only make sense for such runs: a CPU-only job printing Lightning's "GPU available: False" is fine.
 * Reads the record's resources as slurm-render resolves them: gpus_per_node, gpus, gpus_per_task,
 * gres (`gpu:2`, `gpu:a100:2,tmp:10G`) and `extra` directives (`--gres=gpu:1`, `--gpus=2`, `-G 2`).
 */

export interface GpuRequest {
  /** GPUs as the request states them (per node, per task or per job, see `what`). */
  count: number;
  /** The request as the user wrote it, for messages. */
  what: string;
}

/** GPU options whose value is a `[type:]count`. */
const GPU_COUNT_KEYS = ["gpus_per_node", "gpus", "gpus_per_task", "gpus_per_socket"] as const;

/** The first GPU request among the resources, or undefined when the run asked for none. */
export function gpuRequest(resources: Record<string, unknown> | undefined): GpuRequest | undefined {
  if (!resources) return undefined;
  for (const key of GPU_COUNT_KEYS) {
    const count = gpuCount(resources[key]);
    if (count > 0) return { count, what: key === "gpus_per_node" ? `${count} GPU(s) per node` : `${key} ${String(resources[key])}` };
  }
  const gres = gresGpus(resources.gres);
  if (gres > 0) return { count: gres, what: `gres ${String(resources.gres)}` };
  const extra = resources.extra;
  if (Array.isArray(extra)) {
    for (const d of extra) {
      if (typeof d !== "string") continue;
      const m = /^\s*(?:--(gres|gpus|gpus-per-node|gpus-per-task|gpus-per-socket)(?:=|\s+)|-G\s*)(\S+)\s*$/.exec(d);
      if (!m) continue;
      const count = m[1] === "gres" ? gresGpus(m[2]) : gpuCount(m[2]);
      if (count > 0) return { count, what: d.trim() };
    }
  }
  return undefined;
}

/** `4`, `"4"`, `"a100:4"` -> 4; anything else 0. */
function gpuCount(value: unknown): number {
  if (typeof value === "number") return Number.isFinite(value) && value > 0 ? value : 0;
  if (typeof value !== "string") return 0;
  // --gpus may list several types: "a100:2,v100:1".
  let total = 0;
  for (const part of value.split(",")) {
    const m = /^\s*(?:[^:\s]+:)?(\d+)\s*$/.exec(part);
    if (m) total += Number(m[1]);
  }
  return total;
}

/** GPUs in a gres list: `gpu`, `gpu:2`, `gpu:a100:2`, `gres/gpu:2`, `gpu:a100:2(S:0)`; other gres ignored. */
function gresGpus(value: unknown): number {
  if (typeof value !== "string") return 0;
  let total = 0;
  for (const entry of value.split(",")) {
    const fields = withoutSocketSuffix(entry.trim()).replace(/^gres\//, "").split(":");
    if (fields[0] !== "gpu") continue;
    const last = fields[fields.length - 1]!;
    // A gres without a count means one (sbatch --gres=gpu).
    total += fields.length > 1 && /^\d+$/.test(last) ? Number(last) : 1;
  }
  return total;
}

/**
 * `gpu:a100:2(S:0)` -> `gpu:a100:2`: what `.replace(/\(.*\)$/, "")` did, without retrying `.*`
 * from every `(` of a long `((((...` string (O(n^2)): the first `(` after the last line
 * terminator (`.` stops at those) starts the suffix when the entry ends with `)`.
 */
function withoutSocketSuffix(entry: string): string {
  if (!entry.endsWith(")")) return entry;
  let from = 0;
  for (const t of ["\n", "\r", "\u2028", "\u2029"]) from = Math.max(from, entry.lastIndexOf(t) + 1);
  const open = entry.indexOf("(", from);
  return open === -1 ? entry : entry.slice(0, open);
}
