// @slurmpipe/core: what every slurmpipe command shares.
export * from "./schemas/index.ts";
export * from "./ndjson/errors.ts";
export * from "./ndjson/lines.ts";
export * from "./ndjson/reader.ts";
export * from "./ndjson/writer.ts";
export * from "./slurm/states.ts";
export * from "./slurm/jobid.ts";
export * from "./slurm/units.ts";
export * from "./slurm/runner.ts";
export * from "./slurm/tag.ts";
export * from "./slurm/filename-pattern.ts";
export * from "./state/atomic.ts";
export * from "./state/ledger.ts";
export * from "./cli/log.ts";
export * from "./cli/options.ts";
export * from "./cli/main.ts";
export * from "./hash.ts";
export { runLocalSlurm, localDir, type LocalOptions, type LocalJob, type LocalResult } from "./local/index.ts";
