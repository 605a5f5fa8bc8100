import { type RunRecord, isNeverSatisfiedReason, parseState } from "@slurmpipe/core";

/** The statuses a report shows. UNKNOWN is never counted as failed: the job may well be alive. */
export const STATUSES = [
  "COMPLETED",
  "RUNNING",
  "PENDING",
  "BLOCKED",
  "FAILED",
  "TIMEOUT",
  "OUT_OF_MEMORY",
  "CANCELLED",
  "NODE_FAIL",
  "PREEMPTED",
  "SUBMIT_ERROR",
  "UNKNOWN",
  "NOT_SUBMITTED",
  "MISSING",
] as const;
export type Status = (typeof STATUSES)[number];

export const FAILED_STATUSES: ReadonlySet<Status> = new Set([
  "FAILED",
  "TIMEOUT",
  "OUT_OF_MEMORY",
  "CANCELLED",
  "NODE_FAIL",
  "PREEMPTED",
  "SUBMIT_ERROR",
]);
export const ACTIVE_STATUSES: ReadonlySet<Status> = new Set(["RUNNING", "PENDING"]);

export interface DerivedStatus {
  status: Status;
  /** The Slurm state when it differs from the status shown (COMPLETING, REQUEUED, DEADLINE...). */
  slurmState?: string;
}

/**
 * Maps a record to the status shown. Slurm flag states fold into the base status a person
 * expects (COMPLETING is still RUNNING, REQUEUED is PENDING again); the exact state goes to Notes.
 */
export function deriveStatus(record: RunRecord): DerivedStatus {
  const submitStage = record.error && /submit/i.test(record.error.stage);
  if (record.error && submitStage) return { status: "SUBMIT_ERROR" };
  // An error before submission (sweep-gen: a run directory without its job script; slurm-render):
  // the run was never submitted, and the error says why (in Notes).
  if (!record.job) return { status: "NOT_SUBMITTED" };
  if (!record.state) return { status: "UNKNOWN", slurmState: "not polled yet" };
  if (isBlocked(record)) return record.state.state === "PENDING" ? { status: "BLOCKED" } : { status: "BLOCKED", slurmState: record.state.state };
  const parsed = parseState(record.state.state);
  const long = parsed.state;
  const shown = STATUS_OF[long] ?? (parsed.known ? undefined : "UNKNOWN");
  const status: Status = shown ?? fromCategory(record.state.category);
  return long === status ? { status } : { status, slurmState: record.state.state };
}

const STATUS_OF: Record<string, Status> = {
  PENDING: "PENDING",
  REQUEUED: "PENDING",
  REQUEUE_HOLD: "PENDING",
  REQUEUE_FED: "PENDING",
  SPECIAL_EXIT: "PENDING",
  RESV_DEL_HOLD: "PENDING",
  EXPEDITING: "PENDING",
  RUNNING: "RUNNING",
  COMPLETING: "RUNNING",
  CONFIGURING: "RUNNING",
  SUSPENDED: "RUNNING",
  STOPPED: "RUNNING",
  RESIZING: "RUNNING",
  SIGNALING: "RUNNING",
  STAGE_OUT: "RUNNING",
  COMPLETED: "COMPLETED",
  FAILED: "FAILED",
  TIMEOUT: "TIMEOUT",
  OUT_OF_MEMORY: "OUT_OF_MEMORY",
  CANCELLED: "CANCELLED",
  NODE_FAIL: "NODE_FAIL",
  PREEMPTED: "PREEMPTED",
  // Not in the report's vocabulary: the nearest status, with the real state in Notes.
  BOOT_FAIL: "NODE_FAIL",
  DEADLINE: "CANCELLED",
  REVOKED: "UNKNOWN",
};

/** PENDING on a dependency that can never be satisfied (an upstream job failed): it will not run as it is. */
export function isBlocked(record: RunRecord): boolean {
  const state = record.state;
  if (!state) return false;
  return state.category === "blocked" || (parseState(state.state).state === "PENDING" && isNeverSatisfiedReason(state.reason));
}

function fromCategory(category: string): Status {
  switch (category) {
    case "pending":
      return "PENDING";
    case "blocked":
      return "BLOCKED";
    case "active":
      return "RUNNING";
    case "success":
      return "COMPLETED";
    case "failure":
      return "FAILED";
    default:
      return "UNKNOWN";
  }
}

export function isFailed(status: Status): boolean {
  return FAILED_STATUSES.has(status);
}

/** Finished for good (successfully or not): used for the "finished" percentage. */
export function isFinished(status: Status): boolean {
  return status === "COMPLETED" || isFailed(status);
}
