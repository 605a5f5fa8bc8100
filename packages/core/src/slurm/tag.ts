/**
 * The job name is the only tag Slurm shows in both squeue and sacct on every site
 * (slurm-facts.md §7.6): `--comment` reaches sacct only with AccountingStoreFlags=job_comment,
 * `--wckey` is lower-cased, and sacct keeps 255 bytes of the name. So every job slurmpipe submits
 * is named `<readable name>.sp<run id prefix>` (plus `r<attempt>` from the 2nd attempt on), and the
 * whole name is cut to fit 255 bytes with the tag kept intact.
 */
const TAG_MARKER = ".sp";
const TAG_RE = /\.sp([0-9a-z]{10})(?:r(\d+))?$/;
const MAX_JOB_NAME_BYTES = 255;
export const TAG_ID_LENGTH = 10;

export interface JobTag {
  runIdPrefix: string;
  attempt: number;
}

/** The suffix alone, e.g. ".spab12cd34ef" or ".spab12cd34efr2". */
export function jobTag(runId: string, attempt = 1): string {
  const prefix = runId.toLowerCase().replace(/[^0-9a-z]/g, "").slice(0, TAG_ID_LENGTH);
  if (prefix.length < TAG_ID_LENGTH) throw new Error(`run id ${JSON.stringify(runId)} is too short to tag a job (need ${TAG_ID_LENGTH} letters or digits)`);
  return `${TAG_MARKER}${prefix}${attempt > 1 ? `r${attempt}` : ""}`;
}

/**
 * `name` made safe for a job name, plus the tag. Kept: letters, digits and `_ . + = @ -`. Replaced
 * by `_`: whitespace and quotes (they break squeue/sacct parsing and `#SBATCH` lines), `|` (the
 * field separator of our queries), `%` (an output-pattern escape), and `,`: `squeue --name` and
 * `sacct --name` take a comma-separated LIST, so a job named `lr0.1,wd0` is never found by its
 * name and an interrupted submission of it would be submitted again.
 */
export function taggedJobName(name: string, runId: string, attempt = 1): string {
  const tag = jobTag(runId, attempt);
  let base = name.replace(/[^\w.+=@-]+/g, "_");
  while (Buffer.byteLength(base + tag) > MAX_JOB_NAME_BYTES) base = base.slice(0, -1);
  return base + tag;
}

/** Reads the tag back out of a job name, or undefined when the job is not slurmpipe's. */
export function parseJobTag(jobName: string): JobTag | undefined {
  const m = TAG_RE.exec(jobName.trim());
  if (!m) return undefined;
  return { runIdPrefix: m[1]!, attempt: m[2] ? Number(m[2]) : 1 };
}

/** True when `jobName` carries the tag of this run id and attempt. */
export function matchesTag(jobName: string, runId: string, attempt = 1): boolean {
  return jobName.trim().endsWith(jobTag(runId, attempt));
}

/** True when a job name can be given to `squeue --name` / `sacct --name` (which split at commas). */
export function listableJobName(name: string): boolean {
  return name !== "" && !name.includes(",");
}
