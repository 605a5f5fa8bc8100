import { hostname } from "node:os";
import { formatDuration } from "../slurm/units.ts";
import { type ArgError, type ParsedArgs, last, parseArgs } from "./args.ts";
import { elapsedSeconds, limitText, memText, slurmTime } from "./format.ts";
import { type LocalJob, currentBootId, listJobs, lostToReboot } from "./store.ts";
import type { LocalResult } from "./types.ts";

const SPEC = {
  values: { jobs: "j", name: undefined, format: "o", starttime: "S", endtime: "E", state: "s", delimiter: undefined, user: "u", clusters: "M", partition: "r", accounts: "A" },
  flags: { allocations: "X", parsable2: "P", parsable: "p", noheader: "n", duplicates: "D", noconvert: undefined, allusers: "a", verbose: "v", "array": undefined, brief: "b", long: "l" },
};

const DEFAULT_FIELDS = ["JobID", "JobName", "Partition", "Account", "AllocCPUS", "State", "ExitCode"];

interface Row {
  job: LocalJob;
  step?: "batch";
  /** lostToReboot's reason: accounting still has the job's last state, the reason says it is lost. */
  lost?: string;
}

function value(field: string, row: Row, noconvert: boolean): string | undefined {
  const { job, step } = row;
  const node = hostname().split(".")[0]!;
  const started = job.start_time !== undefined;
  switch (field.toLowerCase()) {
    case "jobid": return step ? `${job.id}.${step}` : job.id;
    case "jobidraw": return step ? `${job.raw_id}.${step}` : String(job.raw_id);
    case "jobname": return step ? step : job.name;
    case "state": {
      if (step && job.state === "CANCELLED") return "CANCELLED";
      if (job.state === "CANCELLED" && !step) return "CANCELLED by " + (process.getuid?.() ?? 0);
      if (step && job.state === "TIMEOUT") return "CANCELLED";
      return job.state;
    }
    case "exitcode": {
      if (step && job.state === "TIMEOUT") return "0:15";
      return `${job.exit_code ?? 0}:${job.signal ?? 0}`;
    }
    case "derivedexitcode": return step ? "" : "0:0";
    case "elapsed": return formatDuration(elapsedSeconds(job));
    case "elapsedraw": return String(elapsedSeconds(job));
    case "start": return started ? slurmTime(job.start_time) : job.state === "CANCELLED" ? "None" : "Unknown";
    case "end": return job.end_time ? slurmTime(job.end_time) : "Unknown";
    case "submit": return slurmTime(job.submit_time);
    case "eligible": return slurmTime(job.submit_time);
    case "maxrss": return step && job.max_rss_kb ? (noconvert ? String(job.max_rss_kb * 1024) : `${job.max_rss_kb}K`) : "";
    case "reqmem": return step ? "" : memText(job.mem_mb, noconvert);
    case "timelimit": return step ? "" : limitText(job, "sacct");
    case "timelimitraw": return step ? "" : job.time_limit_s === null ? "UNLIMITED" : String(Math.ceil(job.time_limit_s / 60));
    case "nodelist": return started ? node : "None assigned";
    case "reason": return step ? "" : (row.lost ?? job.reason);
    case "comment": case "wckey": case "constraints": return "";
    case "alloctres": return started ? "billing=1,cpu=1,node=1" : "";
    case "reqtres": return "billing=1,cpu=1,node=1";
    case "partition": return step ? "" : job.partition;
    case "user": return step ? "" : job.user;
    case "account": return job.user;
    case "restarts": return String(job.restarts);
    case "alloccpus": case "ncpus": case "nnodes": case "reqcpus": case "reqnodes": return "1";
    case "workdir": return job.cwd;
    case "cluster": return "local";
    case "qos": return "normal";
    case "priority": return "1";
    case "arrayjobid": return job.array_job_id !== undefined ? String(job.array_job_id) : "";
    case "arraytaskid": return job.array_task !== undefined ? String(job.array_task) : "";
    case "uid": return String(process.getuid?.() ?? 0);
    case "totalcpu": case "cputime": return formatDuration(elapsedSeconds(job));
    default: return undefined;
  }
}

/** sacct's -S/-E forms: now, now-1hour, now-2days, YYYY-MM-DD[THH:MM[:SS]], MM/DD[/YY], epoch. */
export function parseSacctTime(text: string, now = Date.now()): number | undefined {
  const t = text.trim();
  const rel = /^now(?:([+-])(\d+)(seconds?|minutes?|hours?|days?|weeks?)?)?$/i.exec(t);
  if (rel) {
    if (!rel[1]) return now;
    const unit = (rel[3] ?? "seconds").toLowerCase().replace(/s$/, "");
    const mult = { second: 1, minute: 60, hour: 3600, day: 86400, week: 604800 }[unit] ?? 1;
    return now + (rel[1] === "-" ? -1 : 1) * Number(rel[2]) * mult * 1000;
  }
  if (/^\d{4}-\d{2}-\d{2}$/.test(t)) return new Date(`${t}T00:00:00`).getTime();
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(t)) return new Date(t).getTime();
  if (/^\d{9,11}$/.test(t)) return Number(t) * 1000;
  return undefined;
}

export function localSacct(argv: readonly string[], dir: string, now = Date.now()): LocalResult {
  let args: ParsedArgs;
  try {
    args = parseArgs(argv, SPEC);
  } catch (e) {
    return { stdout: "", stderr: `sacct: ${(e as ArgError).message}\nTry "sacct --help" for more information\n`, exitCode: 1 };
  }
  const fields = (last(args, "format")?.split(",").map((f) => f.trim().replace(/%\d+$/, "")).filter(Boolean)) ?? DEFAULT_FIELDS;
  for (const f of fields) {
    if (value(f, { job: PROBE }, false) === undefined) return { stdout: "", stderr: `sacct: error: Invalid field requested: "${f}"\n`, exitCode: 1 };
  }
  const idsText = args.options.get("jobs")?.join(",");
  const ids = idsText?.split(",").filter(Boolean);
  for (const id of ids ?? []) {
    if (!/^\d+(_\d+)?(\.\w+)?$/.test(id)) return { stdout: "", stderr: `sacct: fatal: Bad job/step specified: ${id}\n`, exitCode: 1 };
  }
  const names = last(args, "name")?.split(",");
  const states = last(args, "state")?.split(",").map((s) => s.toUpperCase());
  // The default window trap of real sacct (slurm-facts.md §4.4): without -j, -S is midnight today.
  const midnight = new Date(now);
  midnight.setHours(0, 0, 0, 0);
  const sText = last(args, "starttime");
  const eText = last(args, "endtime");
  const start = sText ? parseSacctTime(sText, now) : ids ? 0 : midnight.getTime();
  const end = eText ? parseSacctTime(eText, now) : now;
  if (start === undefined || end === undefined) return { stdout: "", stderr: `sacct: error: invalid time specification\n`, exitCode: 1 };
  const jobs = listJobs(dir).filter((j) => {
    if (ids && !ids.some((id) => matches(j, id.replace(/\.\w+$/, "")))) return false;
    if (names && !names.includes(j.name)) return false;
    if (states && !states.includes(j.state)) return false;
    const submit = Date.parse(j.submit_time);
    const ended = j.end_time ? Date.parse(j.end_time) : Number.POSITIVE_INFINITY;
    return submit <= end && ended >= start;
  });
  const rows: Row[] = [];
  const bootId = currentBootId();
  for (const job of jobs) {
    const lost = lostToReboot(job, bootId);
    rows.push({ job, ...(lost ? { lost } : {}) });
    if (!args.flags.has("allocations") && job.start_time) rows.push({ job, step: "batch" });
  }
  const noconvert = args.flags.has("noconvert");
  const parsable = args.flags.has("parsable2") || args.flags.has("parsable");
  const delimiter = last(args, "delimiter") ?? "|";
  const trailing = args.flags.has("parsable") && !args.flags.has("parsable2") ? delimiter : "";
  const lines: string[] = [];
  if (parsable) {
    if (!args.flags.has("noheader")) lines.push(fields.join(delimiter) + trailing);
    for (const row of rows) lines.push(fields.map((f) => value(f, row, noconvert) ?? "").join(delimiter) + trailing);
  } else {
    const widths = fields.map((f) => (/^jobid/i.test(f) ? 12 : 10));
    const cell = (v: string, w: number) => (v.length > w ? `${v.slice(0, w - 1)}+` : v.padStart(w));
    if (!args.flags.has("noheader")) {
      lines.push(fields.map((f, i) => cell(f, widths[i]!)).join(" "));
      lines.push(widths.map((w) => "-".repeat(w)).join(" "));
    }
    for (const row of rows) lines.push(fields.map((f, i) => cell(value(f, row, noconvert) ?? "", widths[i]!)).join(" "));
  }
  return { stdout: lines.length ? `${lines.join("\n")}\n` : "", stderr: "", exitCode: 0 };
}

function matches(job: LocalJob, id: string): boolean {
  if (id.includes("_")) return job.id === id;
  return String(job.raw_id) === id || String(job.array_job_id) === id;
}

const PROBE: LocalJob = {
  raw_id: 0, id: "0", name: "", script: "", cwd: "", stdout: "", stderr: "", time_limit_s: null, dependency: [], partition: "", user: "",
  submit_time: new Date(0).toISOString(), state: "PENDING", reason: "", restarts: 0, env: {},
};
