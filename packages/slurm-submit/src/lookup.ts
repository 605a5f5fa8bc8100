import { userInfo } from "node:os";
import {
  type ParsedState,
  SACCT_BY_NAME_FIELDS,
  SQUEUE_BY_NAME_FIELDS,
  type SlurmClientOptions,
  SlurmOutputError,
  listableJobName,
  parseJobId,
  parseSlurmTime,
  parseState,
  runSlurm,
  sacctFormat,
  slurmFields,
  slurmTimeArg,
  squeueFormat,
} from "@slurmpipe/core";

/**
 * Looking jobs up by their tag (the job name), the only key both squeue and sacct show on every
 * site (slurm-facts.md §7.6). squeue (`-t all`) is authoritative while slurmctld still holds the
 * job (MinJobAge after it ends); sacct covers older jobs but lags by seconds (§4.7), so it is only
 * asked with an explicit -S/-E window (§4.4) and only for names squeue did not answer for.
 */
export interface TagRow {
  /** The id as Slurm printed it: "123", "123_4" or "123_[5-9]" (pending array tasks). */
  jobId: string;
  /** The job (or array job) id: "123". */
  baseId: string;
  arrayTask?: number;
  /** Pending array tasks covered by a `123_[5-9]` row. */
  arrayTasks?: number[];
  name: string;
  state: ParsedState;
  rawState: string;
  submittedAt?: string;
  source: "squeue" | "sacct";
}

export const DAY_MS = 86_400_000;

/** Start of a lookup's sacct window: one day before the earliest of `times` (ms since epoch). */
export function windowStart(times: readonly number[]): number {
  return times.reduce((m, v) => Math.min(m, v), Number.POSITIVE_INFINITY) - DAY_MS;
}

/** Names are sent comma-joined in ONE argument; Linux caps one argument at 128 KiB. */
const MAX_NAME_ARG_BYTES = 64 * 1024;

export function chunkNames(names: readonly string[], maxBytes = MAX_NAME_ARG_BYTES): string[][] {
  const chunks: string[][] = [];
  let current: string[] = [];
  let size = 0;
  for (const name of names) {
    const bytes = Buffer.byteLength(name) + 1;
    if (current.length > 0 && size + bytes > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(name);
    size += bytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? "";
  }
}

/**
 * Whose jobs a by-name query asks for: `user`, else this user's (`-u`). With --remote, the remote
 * login's, whose name need not be the one here (a laptop's alice is the cluster's alice01, and an
 * ssh config alias may set User): squeue `--me`, and sacct without `-u`, which shows the caller's
 * own jobs. (`-u <local name>` there found nothing, so no interrupted submission was reconciled.)
 */
function userArgs(command: "squeue" | "sacct", client: SlurmClientOptions, user?: string): string[] {
  if (user) return ["-u", user];
  if (client.remote && client.backend !== "local") return command === "squeue" ? ["--me"] : [];
  const me = currentUser();
  return me ? ["-u", me] : [];
}

/** One line of either by-name query (core's SQUEUE_BY_NAME_FIELDS / SACCT_BY_NAME_FIELDS: id, state, submit, name). */
function rowFrom(line: string, source: TagRow["source"]): TagRow {
  const count = (source === "squeue" ? SQUEUE_BY_NAME_FIELDS : SACCT_BY_NAME_FIELDS).length;
  const [jobIdText, rawState, submit, name] = slurmFields(line, count, source) as [string, string, string, string];
  let id: ReturnType<typeof parseJobId>;
  try {
    id = parseJobId(jobIdText);
  } catch {
    // Never guessed at: a job of ours left out would be taken for absent and submitted again.
    throw new SlurmOutputError(source, line, count);
  }
  const row: TagRow = { jobId: jobIdText, baseId: String(id.jobId), name, state: parseState(rawState), rawState, source };
  if (id.arrayTask !== undefined) row.arrayTask = id.arrayTask;
  if (id.arrayTasks) row.arrayTasks = id.arrayTasks;
  const at = parseSlurmTime(submit);
  if (at) row.submittedAt = at;
  return row;
}

/** `squeue -o <SQUEUE_BY_NAME_FIELDS>` lines -> rows; a malformed line throws SlurmOutputError (core's policy). */
export function parseSqueueRows(stdout: string): TagRow[] {
  return parseRows(stdout, "squeue");
}

/** `sacct -X -n -P -o <SACCT_BY_NAME_FIELDS>` lines -> rows; a malformed line throws SlurmOutputError. */
export function parseSacctRows(stdout: string): TagRow[] {
  return parseRows(stdout, "sacct");
}

function parseRows(stdout: string, source: "squeue" | "sacct"): TagRow[] {
  const rows: TagRow[] = [];
  for (const line of stdout.split("\n")) if (line.trim() !== "") rows.push(rowFrom(line.replace(/\r$/, ""), source));
  return rows;
}

export interface LookupOptions {
  client: SlurmClientOptions;
  /** Start of the sacct window (ms since epoch); the end is always `now`. */
  sinceMs: number;
  user?: string;
  /** Skip sacct (e.g. when every name is young enough to still be in slurmctld's memory). */
  squeueOnly?: boolean;
}

/**
 * Every job carrying one of `names`: ONE `squeue -t all` and at most ONE `sacct` per 64 KiB of
 * names, whatever their number. A failing query throws (SlurmCommandError): "could not look" must
 * never be read as "not there".
 */
export async function lookupByNames(names: readonly string[], options: LookupOptions): Promise<Map<string, TagRow[]>> {
  const wanted = new Set(names);
  const found = new Map<string, TagRow[]>();
  if (wanted.size === 0) return found;
  const add = (row: TagRow) => {
    if (!wanted.has(row.name)) return; // sacct may answer with the placeholder name `allocation`
    const list = found.get(row.name) ?? [];
    if (!list.some((r) => r.jobId === row.jobId)) list.push(row);
    found.set(row.name, list);
  };
  for (const filter of nameFilters([...wanted])) {
    const args = ["-h", "-t", "all", ...userArgs("squeue", options.client, options.user), ...filter, "-o", squeueFormat(SQUEUE_BY_NAME_FIELDS)];
    const sq = await runSlurm("squeue", args, options.client);
    for (const row of parseSqueueRows(sq.stdout)) add(row);
  }
  if (options.squeueOnly) return found;
  // squeue answers for every job slurmctld still holds; only names it did not see need sacct.
  const missing = [...wanted].filter((n) => !found.has(n));
  for (const filter of nameFilters(missing)) {
    const args = [
      "-X", "-n", "-P",
      ...userArgs("sacct", options.client, options.user),
      ...filter,
      "-S", slurmTimeArg(options.sinceMs),
      "-E", "now",
      "-o", sacctFormat(SACCT_BY_NAME_FIELDS),
    ];
    const sa = await runSlurm("sacct", args, options.client);
    for (const row of parseSacctRows(sa.stdout)) add(row);
  }
  return found;
}

/**
 * The name arguments of the lookup queries: `--name=a,b,...` per 64 KiB of names. A name with a
 * comma cannot be listed (Slurm splits it); slurmpipe no longer makes such names (taggedJobName),
 * but a ledger written before may hold one: those are looked for among all of the user's jobs (one
 * query without --name; the rows are matched by name here), never given up as "not there".
 */
export function nameFilters(names: readonly string[]): string[][] {
  const listable = names.filter(listableJobName);
  const filters = chunkNames(listable).map((chunk) => [`--name=${chunk.join(",")}`]);
  if (listable.length < names.length) filters.push([]);
  return filters;
}

/** The row for one recorded job id among the rows of its tag ("123_7" may sit in "123_[5-9]"). */
export function rowForJob(rows: readonly TagRow[] | undefined, jobId: string): TagRow | undefined {
  if (!rows) return undefined;
  const exact = rows.find((r) => r.jobId === jobId);
  if (exact) return exact;
  let id: ReturnType<typeof parseJobId>;
  try {
    id = parseJobId(jobId);
  } catch {
    return undefined;
  }
  if (id.arrayTask === undefined) return undefined;
  return rows.find((r) => r.baseId === String(id.jobId) && r.arrayTasks?.includes(id.arrayTask!));
}

/**
 * Pending and running tasks among `names`, counted with ONE squeue call (default states: only
 * active jobs). A pending array record counts as its number of tasks.
 */
export async function countActive(names: ReadonlySet<string>, client: SlurmClientOptions, user?: string): Promise<number> {
  const args = ["-h", ...userArgs("squeue", client, user), "-o", squeueFormat(SQUEUE_BY_NAME_FIELDS)];
  const sq = await runSlurm("squeue", args, client);
  let count = 0;
  for (const row of parseSqueueRows(sq.stdout)) {
    if (!names.has(row.name) || row.state.terminal) continue;
    count += row.arrayTasks?.length ?? 1;
  }
  return count;
}

/** ClusterName from `scontrol show config`; undefined when it cannot be read. */
export async function clusterName(client: SlurmClientOptions): Promise<string | undefined> {
  try {
    const r = await runSlurm("scontrol", ["show", "config"], { ...client, attempts: 1 });
    const m = /^\s*ClusterName\s*=\s*(\S+)/m.exec(r.stdout);
    return m?.[1];
  } catch {
    return undefined;
  }
}
