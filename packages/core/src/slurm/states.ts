import type { StateCategory } from "../schemas/job.ts";

/**
 * Every job state squeue/sacct print in Slurm 22.05 through 25.x (see shared/reference/slurm-facts.md §1.1),
 * long form -> compact form and how slurmpipe treats it:
 *   pending   waiting to run (includes requeued / held states: the job comes back)
 *   active    running or finishing (COMPLETING: the final state is not known yet)
 *   success   COMPLETED
 *   failure   terminal and not successful
 *   uncertain we cannot tell from the state alone (REVOKED: the job runs on a sibling cluster)
 */
interface StateInfo {
  compact: string;
  category: StateCategory;
  terminal: boolean;
}

export const JOB_STATES: Readonly<Record<string, StateInfo>> = {
  PENDING: { compact: "PD", category: "pending", terminal: false },
  RUNNING: { compact: "R", category: "active", terminal: false },
  SUSPENDED: { compact: "S", category: "active", terminal: false },
  COMPLETED: { compact: "CD", category: "success", terminal: true },
  CANCELLED: { compact: "CA", category: "failure", terminal: true },
  FAILED: { compact: "F", category: "failure", terminal: true },
  TIMEOUT: { compact: "TO", category: "failure", terminal: true },
  // NODE_FAIL and PREEMPTED end one run; with --requeue the same id comes back PENDING. The
  // poller decides with squeue (still listed -> not final); as a final sacct state they are failures.
  NODE_FAIL: { compact: "NF", category: "failure", terminal: true },
  PREEMPTED: { compact: "PR", category: "failure", terminal: true },
  BOOT_FAIL: { compact: "BF", category: "failure", terminal: true },
  DEADLINE: { compact: "DL", category: "failure", terminal: true },
  OUT_OF_MEMORY: { compact: "OOM", category: "failure", terminal: true },
  COMPLETING: { compact: "CG", category: "active", terminal: false },
  CONFIGURING: { compact: "CF", category: "active", terminal: false },
  RESIZING: { compact: "RS", category: "active", terminal: false },
  REQUEUED: { compact: "RQ", category: "pending", terminal: false },
  REQUEUE_HOLD: { compact: "RH", category: "pending", terminal: false },
  REQUEUE_FED: { compact: "RF", category: "pending", terminal: false },
  SPECIAL_EXIT: { compact: "SE", category: "pending", terminal: false },
  STOPPED: { compact: "ST", category: "active", terminal: false },
  REVOKED: { compact: "RV", category: "uncertain", terminal: true },
  RESV_DEL_HOLD: { compact: "RD", category: "pending", terminal: false },
  SIGNALING: { compact: "SI", category: "active", terminal: false },
  STAGE_OUT: { compact: "SO", category: "active", terminal: false },
  // 25.11+ flag, long form only.
  EXPEDITING: { compact: "EXPEDITING", category: "pending", terminal: false },
};

const BY_COMPACT: Record<string, string> = Object.fromEntries(
  Object.entries(JOB_STATES).map(([long, info]) => [info.compact, long]),
);

export interface ParsedState {
  /** Long form, e.g. "CANCELLED"; "UNKNOWN" when not a Slurm state. */
  state: string;
  category: StateCategory;
  terminal: boolean;
  /** uid from sacct's "CANCELLED by 1234". */
  cancelledBy?: number;
  /** The text was cut by fixed-width output ("CANCELLED+"), so it may be incomplete. */
  truncated?: boolean;
  known: boolean;
}

/**
 * Parses a state as squeue (%T, %t), sacct (State) or `--json` print it: long or compact, any case,
 * `CANCELLED by 0`, a width-truncated `OUT_OF_ME+`, or a JSON array like ["PENDING","REQUEUED"]
 * where flags win over the base state, as Slurm prints them.
 */
export function parseState(raw: string | readonly string[]): ParsedState {
  if (Array.isArray(raw)) {
    const parsed = raw.map((s) => parseState(s)).filter((p) => p.known);
    // The first flag state in Slurm's print order wins; the base state is the last resort.
    const order = Object.keys(JOB_STATES);
    const flag = parsed
      .filter((p) => !isBaseState(p.state))
      .sort((a, b) => order.indexOf(a.state) - order.indexOf(b.state))[0];
    return flag ?? parsed[0] ?? unknownState();
  }
  let text = String(raw).trim().toUpperCase();
  let truncated = false;
  let cancelledBy: number | undefined;
  const by = /^CANCELLED\s+BY\s+(\d+)$/.exec(text);
  if (by) {
    text = "CANCELLED";
    cancelledBy = Number(by[1]);
  }
  if (text.endsWith("+")) {
    truncated = true;
    text = text.slice(0, -1);
  }
  let long = JOB_STATES[text] ? text : BY_COMPACT[text];
  if (!long && truncated) long = Object.keys(JOB_STATES).find((s) => s.startsWith(text));
  if (!long) return unknownState();
  const info = JOB_STATES[long]!;
  return {
    state: long,
    category: info.category,
    terminal: info.terminal,
    known: true,
    ...(cancelledBy !== undefined ? { cancelledBy } : {}),
    ...(truncated ? { truncated } : {}),
  };
}

const BASE_STATES = new Set([
  "PENDING", "RUNNING", "SUSPENDED", "COMPLETED", "CANCELLED", "FAILED", "TIMEOUT",
  "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY",
]);

function isBaseState(state: string): boolean {
  return BASE_STATES.has(state);
}

function unknownState(): ParsedState {
  return { state: "UNKNOWN", category: "uncertain", terminal: false, known: false };
}


/**
 * Pending reasons that mean the job can never start as it is: its dependency failed (afterok on a
 * job that did not complete, afternotok on one that did, ...). Slurm leaves such a job PENDING
 * forever unless `kill_invalid_depend` is set, so slurmpipe reports it as "blocked".
 */
const NEVER_SATISFIED_REASONS = new Set(["DEPENDENCYNEVERSATISFIED"]);

export function isNeverSatisfiedReason(reason: string | undefined): boolean {
  if (!reason) return false;
  return NEVER_SATISFIED_REASONS.has(reason.trim().replace(/^\(|\)$/g, "").toUpperCase());
}

/**
 * The job ids a dependency expression waits on, as squeue %E prints it: `afterok:12(failed)`,
 * `afterany:12_3(unfulfilled),afterok:14`, `singleton`. With `onlyFailed`, only the parts Slurm
 * marked `(failed)` (22.05+): the upstream jobs that block the dependent one.
 */
export function dependencyJobIds(expression: string | undefined, onlyFailed = false): string[] {
  if (!expression || isSlurmNullDependency(expression)) return [];
  const ids: string[] = [];
  for (const part of expression.split(/[,?]/)) {
    const m = /^\s*(after\w*|aftercorr|afterburstbuffer):(.+)$/i.exec(part);
    if (!m) continue;
    for (const item of m[2]!.split(":")) {
      const j = /^(\d+(?:_\d+)?)(?:\+\d+)?(?:\((\w+)\))?$/.exec(item.trim());
      if (!j) continue;
      if (onlyFailed && j[2]?.toLowerCase() !== "failed") continue;
      ids.push(j[1]!);
    }
  }
  return [...new Set(ids)];
}

function isSlurmNullDependency(text: string): boolean {
  const t = text.trim();
  return t === "" || t === "(null)" || t.toUpperCase() === "N/A";
}
