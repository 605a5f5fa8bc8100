import { type Evidence, type Failure, type FailureClass, type JobState, type RunRecord, type SuggestedAction, formatDuration, formatMemory, parseDuration, parseMemory, parseState } from "@slurmpipe/core";
import type { PythonException, Signal } from "./analyzer.ts";
import { chainOf } from "./traceback.ts";
import { CRASH_SIGNALS, type Death, deathFromExit, describeDeath, signalName } from "./exits.ts";

/**
 * Which failure is reported first: a root cause before what it sets off. A CUDA OOM on one rank
 * makes the others hit NCCL timeouts and the launcher raise ChildFailedError; a node failure or a
 * preemption kills processes mid-collective; so specific causes come first, then the scheduler's
 * verdicts, then the symptoms, then the generic ones. Inside a tier, the order below.
 */
export const CLASS_ORDER: readonly FailureClass[] = [
  // root causes
  "CUDA_OOM",
  "HOST_OOM",
  "ILLEGAL_MEMORY_ACCESS",
  "ECC_XID",
  "DISK_FULL",
  "IMPORT_ERROR",
  "NAN_LOSS",
  // the scheduler ended it
  "NODE_FAIL",
  "PREEMPTED",
  "TIME_LIMIT",
  // symptoms that may follow one of the above
  "NCCL",
  "SEGFAULT",
  "PYTHON_EXCEPTION",
  // generic
  "CANCELLED",
  "UNKNOWN",
];

export interface ClassifyInput {
  record: Partial<RunRecord>;
  signals: Map<FailureClass, Signal>;
  exceptions: readonly PythonException[];
  /** Processes the logs say died (exits.ts), in the order seen. */
  deaths?: readonly Death[];
}

interface Found {
  cls: FailureClass;
  message: string;
  signal?: Signal;
  slurm?: string;
  /** Evidence beyond the signal's (the line that shows how the process died). */
  extra?: Evidence[];
  /** A suggestion note that fits this finding better than the class's generic one. */
  note?: string;
}

/** Failures of a run, most specific first, each with evidence and a suggested action. */
export function classify({ record, signals, exceptions, deaths = [] }: ClassifyInput): Failure[] {
  const state = record.state;
  const found = new Map<FailureClass, Found>();
  for (const s of signals.values()) found.set(s.cls, { cls: s.cls, message: messageFor(s), signal: s });
  const slurm = state ? `Slurm: ${state.state}${state.exit_code ? ` (exit ${state.exit_code})` : ""}` : undefined;
  const fromState = (cls: FailureClass, message: string) => {
    const f = found.get(cls);
    if (f) f.slurm = slurm;
    else found.set(cls, { cls, message, ...(slurm ? { slurm } : {}) });
  };

  if (state) {
    const parsed = parseState(state.state);
    if (parsed.state === "OUT_OF_MEMORY" || state.exit_code === "0:125") fromState("HOST_OOM", "host memory exhausted: Slurm ended the job OUT_OF_MEMORY");
    else if (parsed.state === "TIMEOUT") fromState("TIME_LIMIT", "time limit reached: Slurm ended the job TIMEOUT");
    else if (parsed.state === "DEADLINE") fromState("TIME_LIMIT", "deadline reached: Slurm ended the job DEADLINE");
    else if (parsed.state === "PREEMPTED") fromState("PREEMPTED", "preempted by a higher-priority job");
    else if (parsed.state === "NODE_FAIL" || parsed.state === "BOOT_FAIL") fromState("NODE_FAIL", `node failure: Slurm ended the job ${parsed.state}`);
    else if (parsed.state === "CANCELLED") {
      const by = parsed.cancelledBy !== undefined ? ` by uid ${parsed.cancelledBy}` : "";
      fromState("CANCELLED", `cancelled${by}`);
    }
  }
  // Also for a COMPLETED job: its script may go on after the training process was killed.
  const death = pickDeath(deathFromExit(state?.exit_code), deaths);
  if (death) explainDeath(death, deaths, found, record, fromState);
  if (state) {
    const parsed = parseState(state.state);
    const failedState = parsed.category === "failure" && parsed.state !== "CANCELLED";
    if (failedState && found.size === 0) fromState("UNKNOWN", `the job ended ${state.state}${state.exit_code ? ` with exit code ${state.exit_code}` : ""}; no known failure signature in the logs`);
  }
  // CANCELLED only says how it ended (a `*** STEP ... CANCELLED ***` banner also follows an OOM):
  // with a real cause found, it is noise.
  if (found.size > 1) found.delete("CANCELLED");

  const first = exceptions.find((e) => !/(?:ChildFailedError|CalledProcessError|ProcessRaisedException|SystemExit|KeyboardInterrupt)$/.test(e.type));
  const rootException = first ? endOfChain(first, exceptions) : undefined;
  return [...found.values()]
    .sort((a, b) => CLASS_ORDER.indexOf(a.cls) - CLASS_ORDER.indexOf(b.cls))
    .map((f) => {
      const exc = f.signal?.exception ?? (f.cls === "PYTHON_EXCEPTION" ? rootException : undefined);
      const ev = mergeEvidence(f.signal?.evidence, f.extra);
      const suggested = suggest(f.cls, record);
      const failure: Failure = {
        class: f.cls,
        message: f.message,
        ...(ev.length > 0 ? { evidence: ev } : {}),
        suggested: f.note ? { ...suggested, note: f.note } : suggested,
      };
      if (f.slurm) failure.slurm = f.slurm;
      if (exc) {
        const chain = chainOf(exc);
        failure.exception = { type: exc.type, message: exc.message, ...(exc.frame ? { frame: exc.frame } : {}), ...(exc.rank ? { rank: exc.rank } : {}), ...(chain.length > 0 ? { chain } : {}) };
      }
      if (f.signal && f.signal.count > f.signal.evidence.length) failure.occurrences = f.signal.count;
      return failure;
    });
}

/** The exception that ended the process: the last one raised while handling `e` (and so on). */
function endOfChain(e: PythonException, all: readonly PythonException[]): PythonException {
  let cur = e;
  for (let next = all.find((x) => x.cause === cur); next; next = all.find((x) => x.cause === cur)) cur = next;
  return cur;
}

function mergeEvidence(a: readonly Evidence[] | undefined, b: readonly Evidence[] | undefined): Evidence[] {
  const out = [...(a ?? [])];
  for (const e of b ?? []) if (!out.some((o) => o.file === e.file && o.line === e.line)) out.push(e);
  return out.sort((x, y) => (x.file === y.file ? x.line - y.line : 0));
}

/**
 * The death that tells most: a signal over an exit code, the logs' word over Slurm's inferred
 * `N:0`, Slurm's exact `0:N` over the logs (the batch shell's own end). torchrun exits 1 after a
 * worker died of SIGSEGV: the worker's signal (from the log) is the one to explain.
 */
function pickDeath(slurm: Death | undefined, logs: readonly Death[]): Death | undefined {
  const logSignal = logs.find((d) => d.signal !== undefined);
  const logEnv = logs.find((d) => d.code === 126 || d.code === 127);
  if (slurm?.signal !== undefined && !slurm.inferred) return slurm;
  if (logSignal) return logSignal;
  if (slurm) return slurm;
  return logEnv ?? logs[0];
}

type FromState = (cls: FailureClass, message: string) => void;

/** The classes a death can be the consequence of; a death never hides one of these. */
const CAUSES: readonly FailureClass[] = CLASS_ORDER.filter((c) => c !== "CANCELLED" && c !== "UNKNOWN");

/**
 * Turns a death into a failure (or into more evidence for one already found): a crash signal is a
 * SEGFAULT, 127/126 an environment error, SIGKILL/SIGTERM are explained by the OOM, time-limit or
 * cancel evidence around them, and stay UNKNOWN with the list of likely senders when none is found.
 */
function explainDeath(death: Death, deaths: readonly Death[], found: Map<FailureClass, Found>, record: Partial<RunRecord>, fromState: FromState): void {
  const state = record.state;
  const text = describeDeath(death);
  const sameDeath = deaths.filter((d) => (death.signal !== undefined ? d.signal === death.signal : d.code === death.code)).map((d) => d.evidence!);
  const add = (cls: FailureClass, message: string, note?: string) => {
    const f = found.get(cls);
    if (f) {
      f.extra = [...(f.extra ?? []), ...sameDeath];
      // A one-phrase anchor message ("segmentation fault") gains the explanation; an exception's stays.
      if (!f.signal?.exception && (cls === "SEGFAULT" || cls === "IMPORT_ERROR")) f.message = message;
      if (note && !f.note) f.note = note;
    } else {
      fromState(cls, message);
      const g = found.get(cls)!;
      g.extra = sameDeath;
      if (note) g.note = note;
    }
  };
  if (death.code === 127 || death.code === 126) {
    add("IMPORT_ERROR", `${text}; an environment error`, `${death.code === 127 ? "make the command available in the job (module load, venv/conda activate, full path)" : "fix the permission or the path (chmod +x, the right binary for this node)"}; resubmitting as is fails the same way`);
    return;
  }
  const sig = death.signal;
  if (sig === undefined) {
    // A launcher's plain exit code with no error of its own in the logs.
    if (![...found.keys()].some((c) => CAUSES.includes(c))) add("UNKNOWN", `${text} (its own error is not in these logs: look at the failing rank's log or error_file)`);
    return;
  }
  if (CRASH_SIGNALS.has(sig)) {
    add("SEGFAULT", text, sig === 7 ? "retry once; a DataLoader bus error means /dev/shm is too small: fewer workers (num_workers) or a larger --tmp / shm" : sig === 4 ? "rebuild or reinstall for this CPU, or constrain the job to the nodes it was built for (--constraint)" : undefined);
    return;
  }
  const elapsed = state?.elapsed_s;
  const limit = state?.time_limit_s;
  const rss = state?.max_rss_bytes;
  const req = state?.req_mem_bytes;
  if (sig === 9 || sig === 15) {
    if (found.has("HOST_OOM")) {
      add("HOST_OOM", found.get("HOST_OOM")!.message);
      return;
    }
    if (sig === 9 && rss && req && rss >= req * 0.9) {
      add("HOST_OOM", `host memory exhausted: killed by SIGKILL (signal 9) with MaxRSS ${formatMemory(rss)} at ${Math.round((rss / req) * 100)}% of the ${formatMemory(req)} requested, the mark of the OOM killer`);
      return;
    }
    if (found.has("TIME_LIMIT")) {
      add("TIME_LIMIT", found.get("TIME_LIMIT")!.message);
      return;
    }
    if (elapsed !== undefined && limit && elapsed >= limit) {
      add("TIME_LIMIT", `time limit reached: the job ran ${formatDuration(elapsed)} of its ${formatDuration(limit)} limit and was ${sig === 9 ? "killed (SIGKILL after KillWait)" : "terminated (SIGTERM)"}`);
      return;
    }
    for (const cls of ["PREEMPTED", "NODE_FAIL", "CANCELLED"] as const) {
      const f = found.get(cls);
      if (f) {
        f.message = `${f.message}; its processes were ${sig === 9 ? "killed (SIGKILL)" : "terminated (SIGTERM)"}`;
        f.extra = [...(f.extra ?? []), ...sameDeath];
        return;
      }
    }
  }
  // Another cause explains the end (a CUDA OOM, an exception, NCCL): the signal is its consequence.
  if ([...found.keys()].some((c) => CAUSES.includes(c))) return;
  // SIGINT is someone's Ctrl-C or `scancel --signal=INT`: stopped on purpose, as a cancel is.
  if (sig === 2) {
    add("CANCELLED", text, "interrupted on purpose (SIGINT); resubmit if that was not intended");
    return;
  }
  const check =
    sig === 9
      ? `check sacct -j <id> -o MaxRSS,ReqMem,Elapsed,Timelimit (and dmesg or seff for an oom-kill): raise --mem if MaxRSS was near the request${rss && req ? ` (it was ${formatMemory(rss)} of ${formatMemory(req)})` : ""}`
      : sig === 15
        ? "check who stopped it: sacct -j <id> -o State,Elapsed,Timelimit (a time limit, scancel or preemption), or the first failing rank if a launcher stopped the others"
        : `find what sent ${signalName(sig)}`;
  add("UNKNOWN", text, check);
}

function messageFor(s: Signal): string {
  const e = s.exception;
  if (e) {
    const where = e.frame ? ` (in ${e.frame.function} at ${e.frame.file}:${e.frame.line})` : "";
    const msg = e.message ? `${e.type}: ${e.message}` : e.type;
    const during = e.cause ? `; raised while handling ${e.cause.type}${e.cause.message ? `: ${e.cause.message.slice(0, 120)}` : ""}` : "";
    return `${msg.length > 300 ? `${msg.slice(0, 300)}…` : msg}${where}${during}`;
  }
  if (s.cls === "CUDA_OOM") {
    const m = /(CUDA|HIP) out of memory\. Tried to allocate ([\d.]+ ?[KMGT]?i?B)/.exec(s.evidence[0]?.text ?? "");
    if (m) return `GPU out of memory (${m[1]}): tried to allocate ${m[2]}`;
  }
  return s.what;
}

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
