import { readFile } from "node:fs/promises";
import { basename, dirname, isAbsolute, resolve } from "node:path";
import { type ParsedState, type RunRecord, type StringPool, TAG_ID_LENGTH, contentId } from "@slurmpipe/core";
import type { Edit } from "./record-text.ts";

/**
 * One input record and everything slurm-submit decides about it. The record itself is in the
 * record store (`at`, `length`); the item keeps only what planning needs, so 100,000 of them fit in
 * a few tens of MB.
 */
export interface Item {
  /** The record's JSON text in the record store. */
  at: number;
  length: number;
  /** Which of the fields slurm-submit edits the text has (record-text.ts). */
  fields: number;
  /** What slurm-submit changed in the record, applied when it is written out. */
  edits: Edit[] | undefined;
  source: string;
  line: number;
  /** Position in the input (stable order for equal priorities). */
  index: number;
  runId: string;
  name: string;
  priority: number;
  dependsOn: string[] | undefined;
  control: boolean;
  /** `script.path` as given (resolved into `script`). */
  scriptPath: string | undefined;
  /** `script.sha256` as slurm-render recorded it: the script submitted must still be that one. */
  scriptSha256: string | undefined;
  /** The record's `job.id`, when it carries a job. */
  inputJobId: string | undefined;
  /** The record's `error` (another stage's, or the one slurm-submit gave it). */
  error: { stage: string; message: string } | undefined;
  /** Absolute path of the sbatch script. */
  script?: string;
  array?: { key: string; index: number; name?: string; spec?: string };
  /** The site profile's per-user submit limit for the record's partition (slurm-render's script.site_limits). */
  siteSubmitLimit: number | undefined;
  /** Where that limit comes from, for the log line. */
  siteLimitNote: string | undefined;
  /**
   * pass: emitted unchanged (failed upstream, or not selected) · invalid: error record ·
   * done: has a job (ledger, reconciled or input) · intent: a crash left an open intent ·
   * submit: needs sbatch · failed: sbatch refused it · uncertain: could not tell, rerun later.
   */
  status: "pass" | "invalid" | "done" | "foreign" | "intent" | "submit" | "failed" | "uncertain";
  /** Why it is submitted: first time, or selected by --resubmit. */
  planned?: "submit" | "resubmit";
  /** Its job was created or found in this invocation (its id is not stale). */
  fresh?: boolean;
  /** Not selected by --only: never (re)submitted. */
  locked?: boolean;
  /** Attempt number this run is (re)submitted with. */
  attempt?: number;
  previousIds?: string[];
  /** The job the run has at the end (from the ledger, a reconciliation or sbatch). */
  job?: Record<string, unknown>;
  /** Slurm's current view of `job`, when it was looked up. */
  live?: ParsedState;
  /** Set once the record was written to stdout. */
  emitted?: boolean;
}

export function locate(item: Pick<Item, "source" | "line">): string {
  return `${item.source}:${item.line}`;
}

/** True when the run id yields a job tag (core's jobTag needs 10 letters or digits). */
export function taggable(runId: string): boolean {
  return runId.toLowerCase().replace(/[^0-9a-z]/g, "").length >= TAG_ID_LENGTH;
}

export function resolveScript(path: string, cwd: string): string {
  return isAbsolute(path) ? path : resolve(cwd, path);
}

/**
 * Array membership: slurm-render --array sets `script.array` {index, id?, name?, spec?} on every
 * task's record, all with the same script path. Without an id the path stands in (stable).
 */
export function arrayInfo(record: RunRecord, scriptAbs: string, pool: StringPool): Item["array"] {
  const a = record.script?.array as (Record<string, unknown> & { index: number }) | undefined;
  if (!a) return undefined;
  const id = typeof a.id === "string" && taggable(a.id) ? a.id : contentId({ array_script: scriptAbs });
  return {
    key: pool.get(id),
    index: a.index,
    ...(typeof a.name === "string" && a.name ? { name: pool.get(a.name) } : {}),
    ...(typeof a.spec === "string" && a.spec ? { spec: pool.get(a.spec) } : {}),
  };
}

export interface ScriptDirectives {
  jobName?: string;
  array?: string;
}

/** `#SBATCH` job name and array spec of a script (directives end at the first command, §7.1). */
export async function readDirectives(path: string): Promise<ScriptDirectives | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return undefined;
  }
  const out: ScriptDirectives = {};
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (t === "" || (t.startsWith("#") && !t.startsWith("#SBATCH"))) continue;
    if (!t.startsWith("#SBATCH")) break;
    const name = /^#SBATCH\s+(?:--job-name[= ]|-J\s*)("[^"]*"|'[^']*'|\S+)/.exec(t);
    if (name && out.jobName === undefined) out.jobName = name[1]!.replace(/^["']|["']$/g, "");
    const arr = /^#SBATCH\s+(?:--array[= ]|-a\s*)(\S+)/.exec(t);
    if (arr && out.array === undefined) out.array = arr[1]!;
  }
  return out;
}

/** The readable part of the job name: what the script asked for, else the run (or array) name. */
export function baseJobName(item: Item, directives: ScriptDirectives | undefined): string {
  if (item.array) return item.array.name ?? directives?.jobName ?? basename(dirname(item.script!));
  return directives?.jobName ?? item.name;
}

/** Priority order: higher `priority` first, input order otherwise (stable). */
export function byPriority(a: { priority: number; order: number }, b: { priority: number; order: number }): number {
  return b.priority - a.priority || a.order - b.order;
}

/** The script an item is submitted with, as the ledger keeps it. */
export function scriptOf(item: Item): { path?: string; sha256?: string } | undefined {
  if (!item.scriptPath && !item.scriptSha256) return undefined;
  return { ...(item.scriptPath ? { path: item.scriptPath } : {}), ...(item.scriptSha256 ? { sha256: item.scriptSha256 } : {}) };
}
