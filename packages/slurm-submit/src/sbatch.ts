import { dirname } from "node:path";
import {
  SlurmCommandError,
  type SlurmClientOptions,
  expandTaskSpec,
  parseSbatchParsable,
  runSlurm,
} from "@slurmpipe/core";

/** `sbatch --parsable --job-name=<tag> [--dependency=afterok:<ids>] [--array=<tasks>] [extra] <script>`. */
export function sbatchArgs(options: { jobName: string; dependency?: string; array?: string; extra?: readonly string[]; script: string }): string[] {
  return [
    "--parsable",
    `--job-name=${options.jobName}`,
    ...(options.dependency ? [`--dependency=${options.dependency}`] : []),
    ...(options.array ? [`--array=${options.array}`] : []),
    ...(options.extra ?? []),
    options.script,
  ];
}

export type SbatchOutcome =
  | { ok: true; jobId: string; cluster?: string; stderr: string }
  | { ok: false; kind: "transient" | "permanent" | "unknown" | "missing"; code: string; message: string; exitCode?: number };

/**
 * Runs sbatch ONCE (no retries inside the runner: a failed sbatch may still have created the job,
 * so the caller reconciles by tag before trying again). cwd is the script's directory, as when a
 * user runs `cd run && sbatch script`, so relative #SBATCH paths mean what they meant.
 */
export async function runSbatch(args: readonly string[], script: string, client: SlurmClientOptions): Promise<SbatchOutcome> {
  try {
    const r = await runSlurm("sbatch", args, { ...client, cwd: dirname(script), retry: false });
    try {
      const parsed = parseSbatchParsable(r.stdout);
      return { ok: true, jobId: parsed.jobId, ...(parsed.cluster ? { cluster: parsed.cluster } : {}), stderr: r.stderr };
    } catch {
      // rc 0 but no id (e.g. a site wrapper that printed something else): the job may exist.
      return { ok: false, kind: "unknown", code: "sbatch_no_job_id", message: `sbatch exited 0 but printed no job id: ${JSON.stringify(r.stdout.trim().slice(0, 200))}` };
    }
  } catch (e) {
    if (!(e instanceof SlurmCommandError)) throw e;
    const message = sbatchMessage(e.stderr) || e.message;
    const exitCode = e.exitCode;
    switch (e.kind) {
      case "transient":
        return { ok: false, kind: "transient", code: "transient", message, ...(exitCode !== undefined ? { exitCode } : {}) };
      case "timeout":
        return { ok: false, kind: "transient", code: "timeout", message: message || "sbatch timed out", ...(exitCode !== undefined ? { exitCode } : {}) };
      case "qos_limit":
        return { ok: false, kind: "permanent", code: "qos_limit", message, ...(exitCode !== undefined ? { exitCode } : {}) };
      case "permanent":
      case "not_found":
        return { ok: false, kind: "permanent", code: permanentCode(e.stderr), message, ...(exitCode !== undefined ? { exitCode } : {}) };
      case "missing":
        return { ok: false, kind: "missing", code: "sbatch_missing", message };
      default:
        return { ok: false, kind: "unknown", code: "sbatch_failed", message, ...(exitCode !== undefined ? { exitCode } : {}) };
    }
  }
}

/** sbatch's own words, one line: "invalid partition specified: x; Batch job submission failed: ...". */
export function sbatchMessage(stderr: string): string {
  return stderr
    .split(/\r?\n/)
    .map((l) => l.replace(/^sbatch:\s*(error:\s*)?/, "").trim())
    .filter(Boolean)
    .join("; ");
}

function permanentCode(stderr: string): string {
  if (/invalid partition/i.test(stderr)) return "invalid_partition";
  if (/Invalid account/i.test(stderr)) return "invalid_account";
  if (/Invalid qos/i.test(stderr)) return "invalid_qos";
  if (/Job dependency problem/i.test(stderr)) return "dependency_problem";
  if (/Invalid job array specification/i.test(stderr)) return "invalid_array";
  if (/Requested node configuration is not available|Memory specification|Invalid generic resource|Invalid feature/i.test(stderr)) return "resources_unavailable";
  if (/Requested time limit is invalid/i.test(stderr)) return "invalid_time_limit";
  if (/does not look like a batch script|Invalid directive|unrecognized option|Invalid --\w+ specification|Unable to open file/i.test(stderr)) return "invalid_script";
  return "sbatch_rejected";
}

/** Compact task list for --array: [0,1,2,3,7,9,10] -> "0-3,7,9-10". */
export function compressTasks(tasks: readonly number[]): string {
  const sorted = [...new Set(tasks)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

/**
 * The --array value for submitting `tasks` of a script whose own spec is `spec`: none when they are
 * exactly the script's tasks (the script's throttle applies), else the list with the script's
 * `%N` throttle kept.
 */
export function arrayOverride(tasks: readonly number[], spec: string | undefined): string | undefined {
  const want = [...new Set(tasks)].sort((a, b) => a - b);
  if (spec) {
    try {
      const { tasks: full, throttle } = expandTaskSpec(spec);
      if (full && full.length === want.length && [...full].sort((a, b) => a - b).every((t, i) => t === want[i])) return undefined;
      return compressTasks(want) + (throttle ? `%${throttle}` : "");
    } catch {
      // unparsable spec: be explicit
    }
  }
  return compressTasks(want);
}
