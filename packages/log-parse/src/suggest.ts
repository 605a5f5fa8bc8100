import { type FailureClass, type JobState, type RunRecord, type SuggestedAction, formatDuration, formatMemory, parseDuration, parseMemory } from "@slurmpipe/core";

/**
 * What a retry pipeline can do about each failure class, as data: the changes to resources or
 * params a resubmission applies (summary-md prints them as flags, a jq step or a note).
 */
function numberParam(params: Record<string, unknown> | undefined, keys: readonly string[]): [string, number] | undefined {
  for (const k of keys) {
    const v = params?.[k];
    const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : Number.NaN;
    if (Number.isFinite(n)) return [k, n];
  }
  return undefined;
}

const BATCH_KEYS = ["batch_size", "per_device_train_batch_size", "train_batch_size", "micro_batch_size", "bs"];
const LR_KEYS = ["lr", "learning_rate"];
const CLIP_KEYS = ["grad_clip_norm", "gradient_clip_val", "max_grad_norm", "clip_grad_norm", "grad_clip"];

/** What a retry pipeline can do about a failure (as data: changes to resources / params). */
export function suggest(cls: FailureClass, record: Partial<RunRecord>): SuggestedAction {
  const state: Partial<JobState> = record.state ?? {};
  const resources = record.resources ?? {};
  const params = record.params;
  switch (cls) {
    case "HOST_OOM": {
      const rss = state.max_rss_bytes && state.max_rss_bytes > 0 ? state.max_rss_bytes : undefined;
      const req = state.req_mem_bytes && state.req_mem_bytes > 0 ? state.req_mem_bytes : resources.mem ? parseMemory(resources.mem) : undefined;
      // A retry must ask for strictly more than last time: MaxRSS undercounts a step the OOM killer
      // stopped mid-allocation, a MemoryError fails before the peak, and Slurm samples RSS only every
      // few seconds, so MaxRSS below the request says nothing about what the run needs.
      const fromRss = rss ? rss * 1.2 : 0;
      const fromReq = req ? req * 1.5 : 0;
      const bytes = Math.max(fromRss, fromReq);
      if (bytes === 0) return { action: "increase_mem", retry: true, note: "request more memory (--mem); MaxRSS and the requested memory are unknown. Do not shrink the batch: this is host RAM, not GPU memory" };
      const basis = !req ? `MaxRSS ${formatMemory(rss!)} x 1.2 (request unknown)` : !rss ? `requested ${formatMemory(req)} x 1.5 (MaxRSS unknown)` : fromRss > fromReq ? `MaxRSS ${formatMemory(rss)} x 1.2 (above requested ${formatMemory(req)} x 1.5)` : `requested ${formatMemory(req)} x 1.5 (MaxRSS ${formatMemory(rss)} x 1.2 is less)`;
      return { action: "increase_mem", retry: true, changes: { resources: { mem: formatMemory(bytes) } }, note: `${basis}; this is host RAM, not GPU memory` };
    }
    case "CUDA_OOM": {
      const b = numberParam(params, BATCH_KEYS);
      if (b && b[1] > 1) return { action: "reduce_batch", retry: true, changes: { params: { [b[0]]: Math.max(1, Math.floor(b[1] / 2)) } }, note: "halved the batch size; keep the effective batch with gradient accumulation if it matters" };
      return { action: "reduce_batch", retry: true, note: "reduce the batch size (or sequence length / model shards); no batch-size parameter in params" };
    }
    case "TIME_LIMIT": {
      const limit = state.time_limit_s ?? (resources.time ? (parseDuration(resources.time) ?? undefined) : undefined);
      if (limit && limit > 0) {
        // Slurm keeps time limits in whole minutes, rounding seconds up (`--time=00:00:30` runs as
        // 1 minute, and so would 30 s x 1.5 = 45 s): x 1.5 of the limit the job really had, so the
        // retry always gets more (the 90 s suggested for a 1-minute limit run as 2 minutes).
        const granted = Math.ceil(limit / 60) * 60;
        return { action: "increase_time", retry: true, changes: { resources: { time: formatDuration(granted * 1.5) } }, note: "time limit x 1.5; or requeue and resume from the last checkpoint" };
      }
      return { action: "requeue", retry: true, note: "time limit unknown: requeue and resume from the last checkpoint, or raise --time" };
    }
    case "NAN_LOSS": {
      const lr = numberParam(params, LR_KEYS);
      const clip = numberParam(params, CLIP_KEYS);
      const change: Record<string, number> = {};
      if (lr) change[lr[0]] = lr[1] / 2;
      change[clip ? clip[0] : "grad_clip_norm"] = clip ? clip[1] / 2 : 1;
      return { action: "lower_lr", retry: true, changes: { params: change }, note: "halve the learning rate and clip gradients (clip_grad); check fp16 loss scaling and the data for bad values" };
    }
    case "NCCL":
    case "ECC_XID":
    case "NODE_FAIL": {
      const nodes = [resources.exclude, state.node_list].filter((s): s is string => typeof s === "string" && s.trim() !== "");
      if (state.node_list) return { action: "exclude_node", retry: true, changes: { resources: { exclude: [...new Set(nodes)].join(",") } }, note: `retry without ${state.node_list}${cls === "NCCL" ? " (if it repeats on other nodes, check the network and NCCL settings)" : ""}` };
      return { action: "retry", retry: true, note: "retry; the node list is unknown, so no node can be excluded" };
    }
    case "PREEMPTED":
      return { action: "requeue", retry: true, note: "preempted: requeue (sbatch --requeue) and resume from the last checkpoint" };
    case "PYTHON_EXCEPTION":
      return { action: "do_not_retry", retry: false, note: "a code or data error: the same run will fail again; fix it first" };
    case "IMPORT_ERROR":
      return { action: "fix_environment", retry: false, note: "environment or path problem (modules, venv, interpreter, script path): fix it, then resubmit" };
    case "DISK_FULL":
      return { action: "free_disk", retry: false, note: "free space or quota (checkpoints, caches) and resubmit" };
    case "SEGFAULT":
      return { action: "retry", retry: true, note: "retry once; if it repeats, investigate (a DataLoader bus error means /dev/shm is too small: fewer workers)" };
    case "ILLEGAL_MEMORY_ACCESS":
      return { action: "investigate", retry: false, note: "usually a bug (index out of range, custom kernel); rerun with CUDA_LAUNCH_BLOCKING=1. If only one node shows it, suspect the GPU" };
    case "CANCELLED":
      return { action: "investigate", retry: false, note: "cancelled on purpose (scancel); resubmit if that was not intended" };
    default:
      return { action: "investigate", retry: false, note: "no known failure signature: read the end of stderr" };
  }
}
