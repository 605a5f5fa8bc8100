/**
 * The command-line side of a render: the flag values checked, the flags that replaced a record's
 * own resources reported, and the command line that renders the same scripts again
 * (`script.rendered_with`), which summary-md prints as the rerun command.
 */
import { UsageError } from "@slurmpipe/core";
import { RESOURCE_KEYS, flagName, validateValue } from "./directives.ts";
import type { OverriddenValue, Overrides } from "./resolve.ts";

/** Every resource flag's value, checked before any record is read: a bad one is a usage error (exit 2). */
export function checkFlagValues(overrides: Overrides): void {
  for (const key of RESOURCE_KEYS) {
    const value = overrides.resources?.[key];
    if (value === undefined) continue;
    const problem = validateValue(key, value)[0];
    if (problem) throw new UsageError(`--${flagName(key)}: ${problem}`);
  }
}

/** Per flag: how many records carried another value, and the first of them. */
export class OverrideReport {
  private readonly byKey = new Map<string, { flag: string | number; count: number; example: { run: string; value: string | number } }>();

  note(run: string, overridden: readonly OverriddenValue[]): void {
    for (const o of overridden) {
      const seen = this.byKey.get(o.key);
      if (seen) seen.count += 1;
      else this.byKey.set(o.key, { flag: o.flag, count: 1, example: { run, value: o.record } });
    }
  }

  /** One line per flag, in the order the flags were first seen to differ. */
  lines(): string[] {
    return [...this.byKey].map(
      ([key, { flag, count, example }]) =>
        `--${flagName(key as never)} ${flag} replaced resources.${key} of ${count} record(s) that had another value (e.g. run ${example.run}: ${example.value}); command-line flags win over the record's resources`,
    );
  }
}

export interface RenderedWith {
  /** The profile: a built-in name or the profile file's absolute path. */
  profile: string;
  /** slurm-render's arguments without the input files, one `--flag=value` each. */
  args: string[];
}

export interface RenderedWithInput {
  profile: string;
  outDir: string;
  overrides: Overrides;
  sample: boolean;
  array: boolean;
  arrayLimit?: number;
  maxArraySize?: number;
  check: boolean;
  strict: boolean;
  /** --remote: the scripts are on this host; rendering again must write them there too. */
  remote?: string;
}

/**
 * How this render was asked for, as arguments: `slurm-render <args> FILE` renders the same scripts
 * from the same records, from any directory (the profile file and --out are absolute; --venv and
 * --container are written into the script as given, so they stay as given). Repeated flags appear
 * once, with the value that won; `--flag=value` keeps a value starting with `-` a value. -q/-v are
 * left out (they change what is said, not what is written).
 */
export function renderedWith(o: RenderedWithInput): RenderedWith {
  const args = [`--profile=${o.profile}`, `--out=${o.outDir}`, ...(o.remote !== undefined ? [`--remote=${o.remote}`] : [])];
  const { overrides } = o;
  for (const key of RESOURCE_KEYS) {
    const value = overrides.resources?.[key];
    if (value !== undefined) args.push(`--${flagName(key)}=${value}`);
  }
  for (const d of overrides.extra ?? []) args.push(`--directive=${d}`);
  for (const [name, value] of Object.entries(overrides.env ?? {})) args.push(`--env=${name}=${value}`);
  for (const line of overrides.setup ?? []) args.push(`--setup=${line}`);
  if (overrides.venv !== undefined) args.push(`--venv=${overrides.venv}`);
  if (overrides.container !== undefined) args.push(`--container=${overrides.container}`);
  for (const b of overrides.binds ?? []) args.push(`--bind=${b}`);
  if (overrides.force) args.push("--force");
  if (o.sample) args.push("--sample");
  for (const s of overrides.sampleOverrides ?? []) args.push(`--sample-override=${s}`);
  const rq = overrides.requeueOnSignal;
  if (rq !== undefined) args.push(`--requeue-on-signal=${rq === true ? "" : rq === false ? "off" : rq}`);
  if (o.array) args.push("--array");
  if (o.arrayLimit !== undefined) args.push(`--array-limit=${o.arrayLimit}`);
  if (o.maxArraySize !== undefined) args.push(`--max-array-size=${o.maxArraySize}`);
  if (o.check) args.push("--check");
  if (o.strict) args.push("--strict");
  return { profile: o.profile, args };
}
