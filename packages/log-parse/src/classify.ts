import { type Evidence, type Failure, type FailureClass, type RunRecord, formatDuration, formatMemory, parseState } from "@slurmpipe/core";
import type { PythonException, Signal } from "./analyzer.ts";
import { suggest } from "./suggest.ts";
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
  refineByMessage(found);
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
  // What the other ranks see when a peer dies (gloo's `Read error ...: Connection reset by peer`):
  // with a death by a signal in the logs (torchrun's `exitcode: -9`), that death is the failure.
  const peerLost = found.get("PYTHON_EXCEPTION")?.signal?.exception;
  if (peerLost && PEER_LOST.test(peerLost.message.slice(0, 2000)) && deaths.some((d) => d.signal !== undefined)) found.delete("PYTHON_EXCEPTION");
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
  // A requeued job that then COMPLETED: the banners of how an earlier segment ended (preempted,
  // requeued, node failure; the log is appended to) are its history, not a failure of the run.
  if (state && parseState(state.state).state === "COMPLETED" && (state.restarts ?? 0) > 0) {
    for (const cls of SEGMENT_ENDS) if (!found.get(cls)?.slurm) found.delete(cls);
  }

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

/**
 * Exceptions whose type hides their class, told by the message: a framework reporting a missing
 * package in its own type (Lightning's MisconfigurationException "you must have DeepSpeed
 * installed", an error telling to `pip install`) is an environment error; gloo's transport timeout
 * (a peer stopped joining a collective: the CPU backend's) is what NCCL's watchdog reports on GPUs.
 * gloo's "Connection reset by peer" is not: a peer died, and its death (a signal the launcher
 * reports) is the failure to show first.
 */
const BY_MESSAGE: readonly (readonly [FailureClass, RegExp, string])[] = [
  ["IMPORT_ERROR", /\bmust have [\w.-]{1,64} installed\b|\bpip install\b/i, "a package is missing from the environment"],
  ["NCCL", /\bgloo\/transport\/[\w/.]{1,80}:\d{1,9}\] Timed out waiting \d{1,12}ms for (?:recv|send)/, "gloo collective timed out (a peer stopped joining)"],
];

const PEER_LOST = /\bgloo\/transport\/[\w/.]{1,80}:\d{1,9}\] (?:Read error \S{1,80}: Connection reset by peer|Connection closed by peer)/;

function refineByMessage(found: Map<FailureClass, Found>): void {
  const py = found.get("PYTHON_EXCEPTION");
  const exc = py?.signal?.exception;
  if (!py || !exc) return;
  for (const [cls, re, what] of BY_MESSAGE) {
    if (found.has(cls) || !re.test(exc.message.slice(0, 2000))) continue;
    found.delete("PYTHON_EXCEPTION");
    found.set(cls, { ...py, cls, message: `${what}: ${py.message}` });
    return;
  }
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
/** How one run of a job ended, as slurmstepd's banner says it; with --requeue, not the end of the job. */
const SEGMENT_ENDS: readonly FailureClass[] = ["CANCELLED", "PREEMPTED", "NODE_FAIL"];
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
