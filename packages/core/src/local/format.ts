import { formatDuration } from "../slurm/units.ts";
import type { LocalJob } from "./store.ts";

/** Slurm's local-time timestamp without zone: 2026-11-22T23:50:40. */
export function slurmTime(iso: string | undefined, none = "Unknown"): string {
  if (!iso) return none;
  const d = new Date(iso);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function elapsedSeconds(job: LocalJob, now = Date.now()): number {
  if (!job.start_time) return 0;
  const end = job.end_time ? Date.parse(job.end_time) : now;
  return Math.max(0, Math.round((end - Date.parse(job.start_time)) / 1000));
}

/** squeue's %M: [days-][hours:]minutes:seconds, e.g. 0:04, 1:02:03. */
export function squeueTime(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, "0");
  if (d > 0) return `${d}-${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}:${s}`;
  if (h > 0) return `${h}:${String(m).padStart(2, "0")}:${s}`;
  return `${m}:${s}`;
}

export function limitText(job: LocalJob, style: "squeue" | "sacct"): string {
  if (job.time_limit_s === null) return "UNLIMITED";
  return style === "squeue" ? squeueTime(job.time_limit_s) : formatDuration(job.time_limit_s);
}

export const COMPACT: Record<string, string> = { PENDING: "PD", RUNNING: "R", COMPLETED: "CD", FAILED: "F", CANCELLED: "CA", TIMEOUT: "TO" };

/** Applies a `%[.][width]` spec: '.' right-justifies; a width pads and cuts, as squeue does. */
export function fit(value: string, spec: string): string {
  if (!spec) return value;
  const right = spec.startsWith(".");
  const width = Number(spec.replace(".", ""));
  if (!width) return value;
  const cut = value.length > width ? value.slice(0, width) : value;
  return right ? cut.padStart(width) : cut.padEnd(width);
}

/**
 * Memory as sacct's ReqMem and squeue's %m print it (slurm-facts.md §4.1-4.2): MB, shown in the
 * largest unit that divides it (`8000M`, `4G`, `1T`); `--noconvert` keeps MB (`1024M`); `0` when
 * nothing was requested.
 */
export function memText(mb: number | undefined, noconvert = false): string {
  if (!mb) return "0";
  if (noconvert) return `${mb}M`;
  let value = mb;
  let unit = 0;
  const units = ["M", "G", "T", "P"];
  while (value % 1024 === 0 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value}${units[unit]}`;
}
