// @slurmpipe/slurm-submit: idempotent, crash-safe, paced sbatch for NDJSON run records.
export { submit, STAGE, type SubmitOptions, type SubmitSummary } from "./submit.ts";
export { lookupByNames, countActive, rowForJob, parseSqueueRows, parseSacctRows, chunkNames, type TagRow } from "./lookup.ts";
export { LedgerView } from "./ledger-view.ts";
export { appendEntries, readLedgerView } from "./ledger-file.ts";
export { Pacer, systemClock, type Clock } from "./pacer.ts";
export { sbatchArgs, runSbatch, sbatchMessage, arrayOverride, compressTasks } from "./sbatch.ts";
export { parseSelector, parseResubmit, matches, getPath, type Selector, type ResubmitMode } from "./select.ts";
export { orderUnits } from "./order.ts";
export { liveSbatchFor } from "./orphans.ts";
export { readDirectives } from "./items.ts";
