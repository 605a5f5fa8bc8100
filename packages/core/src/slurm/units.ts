/**
 * Slurm's value formats (slurm-facts.md §3.1, §4.2):
 *   durations   D-HH:MM:SS, HH:MM:SS, MM:SS, M (minutes, as sbatch --time takes), D-HH, D-HH:MM,
 *               UNLIMITED / INFINITE, INVALID, Partition_Limit, NOT_SET
 *   timestamps  YYYY-MM-DDTHH:MM:SS (local time, no zone), Unknown, None, N/A, NONE
 *   memory      1234K, 1.5G, 4000M, 0, 2T, with an optional n/c suffix (per node / per cpu, old sacct)
 */

/** Seconds; null for UNLIMITED and the like; undefined when the text is not a duration. */
export function parseDuration(text: string): number | null | undefined {
  const t = text.trim();
  if (/^(UNLIMITED|INFINITE|INVALID|Partition_Limit|NOT_SET|N\/A)$/i.test(t)) return null;
  let m = /^(\d+)-(\d+)(?::(\d+)(?::(\d+))?)?$/.exec(t);
  if (m) return Number(m[1]) * 86400 + Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
  m = /^(\d+):(\d+):(\d+)(?:\.\d+)?$/.exec(t);
  if (m) return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
  m = /^(\d+):(\d+)(?:\.\d+)?$/.exec(t);
  if (m) return Number(m[1]) * 60 + Number(m[2]);
  // A bare number is minutes for --time (sbatch), but squeue never prints one; accept as minutes.
  m = /^(\d+)$/.exec(t);
  if (m) return Number(m[1]) * 60;
  return undefined;
}

/** Formats seconds the way sbatch --time accepts and sacct prints: [D-]HH:MM:SS. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400);
  const hh = String(Math.floor((s % 86400) / 3600)).padStart(2, "0");
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return d > 0 ? `${d}-${hh}:${mm}:${ss}` : `${hh}:${mm}:${ss}`;
}

/** ISO string, or null for Unknown/None/N/A/NONE. Slurm prints local time without a zone. */
export function parseSlurmTime(text: string): string | null | undefined {
  const t = text.trim();
  if (t === "" || /^(Unknown|None|N\/A|NONE|\(null\))$/i.test(t)) return null;
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(t)) {
    const d = new Date(t); // no zone: parsed as local time, as Slurm means it
    return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
  }
  if (/^\d{9,11}$/.test(t)) return new Date(Number(t) * 1000).toISOString(); // SLURM_TIME_FORMAT=%s
  return undefined;
}

const MEM_UNITS: Record<string, number> = { "": 1024 * 1024, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4, P: 1024 ** 5 };

/**
 * Bytes; undefined when not a memory value. A bare number is megabytes, as in sbatch --mem,
 * except "0" (= 0). `--noconvert` sacct output has no unit but means bytes: pass `bareUnit: 1`.
 */
export function parseMemory(text: string, bareUnit: number = MEM_UNITS[""]!): number | undefined {
  const t = text.trim();
  if (t === "" ) return undefined;
  const m = /^(\d+(?:\.\d+)?)([KMGTP]?)(?:[nc])?$/i.exec(t);
  if (!m) return undefined;
  const value = Number(m[1]);
  const unit = (m[2] ?? "").toUpperCase();
  return Math.round(value * (unit === "" ? bareUnit : MEM_UNITS[unit]!));
}

/** Formats bytes as sbatch --mem accepts: whole megabytes or gigabytes ("38G", "1500M"). */
export function formatMemory(bytes: number): string {
  const mb = Math.ceil(bytes / 1024 ** 2);
  return mb % 1024 === 0 ? `${mb / 1024}G` : mb >= 10 * 1024 ? `${Math.ceil(mb / 1024)}G` : `${mb}M`;
}
