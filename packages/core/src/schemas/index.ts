export * from "./archive.ts";
export * from "./common.ts";
export * from "./error.ts";
export * from "./job.ts";
export * from "./report.ts";
export * from "./run.ts";
export * from "./param-changes.ts";
