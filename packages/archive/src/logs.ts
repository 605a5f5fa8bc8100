import fg from "fast-glob";

/** What sbatch knows when it expands an --output/--error pattern. */
export interface JobInfo {
  id?: string;
  name?: string;
  array_job_id?: string;
  array_task?: number;
  user?: string;
}

const NO_VAL = "4294967294"; // what sbatch writes for %a on a job that is not an array task

/**
 * Turns an sbatch filename pattern into a glob: %j %A %a %x %u %% are filled in from the job;
 * what the record cannot know (the raw id of an array task's %j, %N host, %n %t %s) becomes `*`.
 * Literal parts are glob-escaped so a run name with brackets does not turn into a character class.
 * Returns the glob and whether it has wildcards.
 */
export function expandLogPattern(pattern: string, job: JobInfo): { glob: string; wildcard: boolean } {
  if (pattern.includes("\\\\")) return { glob: fg.escapePath(pattern.replace(/\\\\/g, "")), wildcard: false };
  const arrayTask = job.array_task;
  const idText = job.id ?? "";
  const arrayId = job.array_job_id ?? (/^(\d+)_\d+$/.exec(idText)?.[1] ?? undefined);
  const isArray = arrayTask !== undefined || /^\d+_\d+$/.test(idText);
  let wildcard = false;
  let out = "";
  let last = 0;
  const re = /%(\d*)([%AajJxuNntsb])/g;
  for (let m = re.exec(pattern); m; m = re.exec(pattern)) {
    out += fg.escapePath(pattern.slice(last, m.index));
    last = m.index + m[0].length;
    const pad = m[1] ? Number(m[1]) : 0;
    const value = ((): string | undefined => {
      switch (m[2]) {
        case "%":
          return "%";
        case "j":
          // An array task's %j is its own raw job id, which the record does not carry.
          return isArray ? undefined : idText || undefined;
        case "A":
          return isArray ? arrayId : idText || undefined;
        case "a":
          return isArray ? (arrayTask !== undefined ? String(arrayTask) : /_(\d+)$/.exec(idText)?.[1]) : NO_VAL;
        case "x":
          return job.name;
        case "u":
          return job.user;
        default:
          return undefined;
      }
    })();
    if (value === undefined) {
      out += "*";
      wildcard = true;
    } else {
      const padded = /^\d+$/.test(value) ? value.padStart(pad, "0") : value;
      out += fg.escapePath(padded);
    }
  }
  out += fg.escapePath(pattern.slice(last));
  return { glob: out, wildcard };
}
