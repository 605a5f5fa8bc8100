import { hostname } from "node:os";
import { type ArgError, type ParsedArgs, last, parseArgs } from "./args.ts";
import { COMPACT, elapsedSeconds, fit, limitText, memText, slurmTime, squeueTime } from "./format.ts";
import { type LocalJob, TERMINAL_LOCAL, currentBootId, listJobs, lostToReboot } from "./store.ts";
import type { LocalResult } from "./types.ts";

/** Finished jobs stay visible to `squeue -t all` this long, as with Slurm's default MinJobAge. */
export const MIN_JOB_AGE_S = 300;

const SPEC = {
  values: { jobs: "j", states: "t", name: "n", user: "u", format: "o", Format: "O", partition: "p", sort: "S", account: "A", qos: "q", clusters: "M" },
  flags: { noheader: "h", array: "r", all: "a", long: "l", me: undefined, verbose: "v" },
};

interface Row {
  job: LocalJob;
  /** For a collapsed pending array record: the task spec, e.g. "[3-9%2]". */
  spec?: string;
  /** %E, as dependencyText made it. */
  dependency?: string;
}

const DEFAULT_FORMAT = "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R";
const LONG_FORMAT = "%.18i %.9P %.8j %.8u %.8T %.10M %.9l %.6D %R";

const HEADERS: Record<string, string> = {
  i: "JOBID", A: "JOBID", F: "ARRAY_JOB_ID", K: "ARRAY_TASK_ID", j: "NAME", T: "STATE", t: "ST", M: "TIME", l: "TIME_LIMIT",
  L: "TIME_LEFT", R: "NODELIST(REASON)", r: "REASON", N: "NODELIST", S: "START_TIME", V: "SUBMIT_TIME", e: "END_TIME",
  k: "COMMENT", u: "USER", P: "PARTITION", D: "NODES", C: "CPUS", m: "MIN_MEMORY", Q: "PRIORITY", E: "DEPENDENCY", y: "NICE",
  a: "ACCOUNT", Z: "WORK_DIR", o: "COMMAND", w: "WCKEY", q: "QOS",
};

function field(c: string, row: Row): string {
  const { job } = row;
  const node = hostname().split(".")[0]!;
  const running = job.state === "RUNNING";
  switch (c) {
    case "i": return row.spec ? `${job.array_job_id}_${row.spec}` : job.id;
    case "A": return String(job.raw_id);
    case "F": return String(job.array_job_id ?? job.raw_id);
    case "K": return row.spec ? row.spec.replace(/^\[|\]$/g, "") : job.array_task !== undefined ? String(job.array_task) : "N/A";
    case "j": return job.name;
    case "T": return job.state;
    case "t": return COMPACT[job.state] ?? job.state;
    case "M": return squeueTime(elapsedSeconds(job));
    case "l": return limitText(job, "squeue");
    case "L": return job.time_limit_s === null ? "UNLIMITED" : squeueTime(Math.max(0, job.time_limit_s - elapsedSeconds(job)));
    case "R": return running ? node : `(${job.reason})`;
    case "r": return job.reason;
    case "N": return job.start_time ? node : "";
    case "S": return job.start_time ? slurmTime(job.start_time) : "N/A";
    case "V": return slurmTime(job.submit_time);
    case "e": return job.end_time ? slurmTime(job.end_time) : job.time_limit_s === null && running ? "NONE" : "N/A";
    case "k": case "w": return "(null)";
    case "u": return job.user;
    case "P": return job.partition;
    case "D": case "C": return "1";
    case "m": return memText(job.mem_per_cpu_mb ?? job.mem_mb); // per CPU when asked that way, as squeue shows it
    case "Q": return "1";
    case "E": return row.dependency ?? "(null)";
    case "y": return "0";
    case "a": return job.user;
    case "q": return "normal";
    case "Z": return job.cwd;
    case "o": return job.script;
    default: return "";
  }
}

function render(format: string, row: Row | null): string {
  return format.replace(/%(\.?\d*)([a-zA-Z%])/g, (_, spec: string, c: string) => {
    if (c === "%") return "%";
    const value = row ? field(c, row) : (HEADERS[c] ?? c.toUpperCase());
    return fit(value, spec);
  });
}

/** `-O Name[:[.]size[suffix]],...`: default width 20, the suffix is the separator. */
const LONG_FIELDS: Record<string, string> = {
  jobid: "A", jobarrayid: "i", arrayjobid: "F", arraytaskid: "K", name: "j", state: "T", statecompact: "t", reason: "r",
  timeused: "M", timelimit: "l", timeleft: "L", nodelist: "N", starttime: "S", submittime: "V", endtime: "e", comment: "k",
  wckey: "w", username: "u", partition: "P", numnodes: "D", numcpus: "C", dependency: "E", account: "a", qos: "q", workdir: "Z", command: "o",
};

function renderLong(format: string, row: Row | null): { text: string; errors: string[] } {
  const errors: string[] = [];
  let text = "";
  for (const item of format.split(",")) {
    const [nameRaw = "", size = ""] = item.split(":");
    const c = LONG_FIELDS[nameRaw.toLowerCase()];
    if (!c) {
      errors.push(`squeue: error: Invalid job format specification: ${nameRaw}`);
      continue;
    }
    const m = /^(\.?)(\d*)(.*)$/.exec(size)!;
    const width = m[2] ? Number(m[2]) : m[3] ? 0 : 20;
    const value = row ? field(c, row) : (HEADERS[c] ?? nameRaw.toUpperCase());
    text += (width ? fit(value, `${m[1]}${width}`) : value) + (m[3] ?? "");
  }
  return { text, errors };
}

export function localSqueue(argv: readonly string[], dir: string, now = Date.now()): LocalResult {
  let args: ParsedArgs;
  try {
    args = parseArgs(argv, SPEC);
  } catch (e) {
    return { stdout: "", stderr: `squeue: ${(e as ArgError).message}\nTry "squeue --help" for more information\n`, exitCode: 1 };
  }
  // A job lost to a reboot of this machine is in no queue: nothing runs it or will start it.
  const bootId = currentBootId();
  const all = listJobs(dir).filter((j) => lostToReboot(j, bootId) === undefined);
  const statesText = last(args, "states");
  const wantAll = statesText !== undefined && /^all$/i.test(statesText);
  const wanted = statesText && !wantAll ? new Set(statesText.split(",").map((s) => s.trim().toUpperCase())) : undefined;
  const idsText = args.options.get("jobs")?.join(",");
  const ids = idsText ? idsText.split(",").filter(Boolean) : undefined;
  if (ids) {
    for (const id of ids) if (!/^\d+(_\d+)?$/.test(id)) return { stdout: "", stderr: `squeue: error: Invalid job id: ${id}\n`, exitCode: 1 };
  }
  const names = last(args, "name")?.split(",");
  const visible = all.filter((j) => !TERMINAL_LOCAL.has(j.state) || (j.end_time !== undefined && now - Date.parse(j.end_time) < MIN_JOB_AGE_S * 1000));
  // One unknown id alone is an error; in a list it is silently absent (slurm-facts.md §3.3).
  if (ids && ids.length === 1 && !visible.some((j) => matchesId(j, ids[0]!))) {
    return { stdout: "", stderr: "slurm_load_jobs error: Invalid job id specified\n", exitCode: 1 };
  }
  let jobs = visible.filter((j) => {
    if (wanted) {
      if (!wanted.has(j.state) && !wanted.has(COMPACT[j.state] ?? "")) return false;
    } else if (!wantAll && TERMINAL_LOCAL.has(j.state)) return false;
    if (ids && !ids.some((id) => matchesId(j, id))) return false;
    if (names && !names.includes(j.name)) return false;
    return true;
  });
  jobs = jobs.sort((a, b) => (a.state === b.state ? a.raw_id - b.raw_id : a.state === "RUNNING" ? -1 : b.state === "RUNNING" ? 1 : 0));
  const rows: Row[] = args.flags.has("array") ? jobs.map((job) => ({ job })) : collapseArrays(jobs);
  for (const row of rows) if (row.job.dependency.length) row.dependency = dependencyText(row.job, all);
  const longFormat = last(args, "Format");
  const lines: string[] = [];
  const errors: string[] = [];
  const format = last(args, "format") ?? (args.flags.has("long") ? LONG_FORMAT : DEFAULT_FORMAT);
  const line = (row: Row | null) => {
    if (!longFormat) return render(format, row);
    const r = renderLong(longFormat, row);
    if (!row) errors.push(...r.errors);
    return r.text;
  };
  const header = line(null);
  if (!args.flags.has("noheader")) lines.push(header);
  for (const row of rows) lines.push(line(row));
  return { stdout: lines.length ? `${lines.join("\n")}\n` : "", stderr: errors.length ? `${errors.join("\n")}\n` : "", exitCode: 0 };
}

/**
 * %E as Slurm 22.05 prints it (slurm-facts.md §3.1, §7.4): the parts not satisfied yet,
 * `afterok:12(unfulfilled)` while the upstream job has not ended, `afterok:12(failed)` once it can
 * never be satisfied; satisfied parts (and ids no job has) are dropped; `(null)` when none is left.
 */
function dependencyText(job: LocalJob, all: readonly LocalJob[]): string {
  const parts: string[] = [];
  for (const dep of job.dependency) {
    const m = /^(\d+)(?:_(\d+))?$/.exec(dep.id);
    if (!m) continue;
    const upstream = all.filter((j) => (m[2] !== undefined ? j.array_job_id === Number(m[1]) && j.array_task === Number(m[2]) : j.raw_id === Number(m[1]) || j.array_job_id === Number(m[1])));
    if (upstream.length === 0) continue; // unknown to the controller: Slurm lifts it
    if (upstream.some((u) => !TERMINAL_LOCAL.has(u.state))) {
      parts.push(`${dep.type}:${dep.id}(unfulfilled)`);
      continue;
    }
    const completed = upstream.map((u) => u.state === "COMPLETED");
    const failed = dep.type === "afterok" ? completed.some((ok) => !ok) : dep.type === "afternotok" ? completed.some((ok) => ok) : false;
    if (failed) parts.push(`${dep.type}:${dep.id}(failed)`);
  }
  return parts.length ? parts.join(",") : "(null)";
}

function matchesId(job: LocalJob, id: string): boolean {
  if (id.includes("_")) return job.id === id;
  return String(job.raw_id) === id || String(job.array_job_id) === id;
}

/** Pending tasks of one array print as one `123_[4-10%2]` record unless -r. */
function collapseArrays(jobs: LocalJob[]): Row[] {
  const rows: Row[] = [];
  const pendingByArray = new Map<number, LocalJob[]>();
  for (const job of jobs) {
    if (job.array_job_id !== undefined && job.state === "PENDING") {
      const list = pendingByArray.get(job.array_job_id) ?? [];
      if (list.length === 0) rows.push({ job, spec: "" });
      list.push(job);
      pendingByArray.set(job.array_job_id, list);
    } else rows.push({ job });
  }
  for (const row of rows) {
    if (row.spec === undefined) continue;
    const list = pendingByArray.get(row.job.array_job_id!)!;
    if (list.length === 1) {
      delete row.spec;
      continue;
    }
    const throttle = row.job.array_throttle ? `%${row.job.array_throttle}` : "";
    row.spec = `[${ranges(list.map((j) => j.array_task!))}${throttle}]`;
  }
  return rows;
}

export function ranges(nums: number[]): string {
  const sorted = [...nums].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j;
  }
  return parts.join(",");
}
