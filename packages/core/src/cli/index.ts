// @slurmpipe/core/cli: the light entry for a command's CLI shell. It pulls in yargs and nothing
// else (no zod schemas, no execa, no local backend), so `<command> --help` starts fast when the
// command loads its library lazily inside `run`. Error classes come from the same module files as
// in `@slurmpipe/core`, so `instanceof` holds across both entries.
export * from "../ndjson/errors.ts";
export * from "./log.ts";
export * from "./options.ts";
export * from "./common-options.ts";
export * from "./main.ts";
export * from "./completion.ts";
