// slurm-poll as a library: watch submitted jobs with one squeue and at most one sacct per cycle.
export { EXIT_RUNNING, type CycleInfo, type PollOptions, poll } from "./poller.ts";
export { SQUEUE_FIELDS, SQUEUE_FORMAT, type SqueueRow, parseSqueue, squeueArgs } from "./squeue.ts";
export { SACCT_FIELDS, type SacctJob, type SacctRun, newestRun, parseSacct, peakRss, sacctArgs } from "./sacct.ts";
export { type AcctView, type Decision, ACCOUNTING_GRACE_MS, decide, needsAccounting } from "./machine.ts";
export { type ApplyRules, type EarlyTail, type Effect, applyDecision, earlyCheckDue } from "./apply.ts";
export { identify, type Identity } from "./identity.ts";
export { jobKey, keysOf, trackedId } from "./ids.ts";
export { stderrPath, tailFile } from "./early.ts";
export { LedgerFollower, classify, ledgerRecords } from "./inputs.ts";
export { PollStore, POLL_DIR, STORE_FILE } from "./store.ts";
export { type Track, newTrack, storeKey } from "./track.ts";
export { formatEntry, humanElapsed, logStamp } from "./humanlog.ts";
