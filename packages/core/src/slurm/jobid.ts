/**
 * The job-id forms Slurm prints (slurm-facts.md §2.1, §3.4, §4.2):
 *   123            plain job
 *   123_7          array task
 *   123_[0-9]      pending array tasks, also 123_[1,3-5%2] with a throttle
 *   123+1          heterogeneous job component
 *   123.batch      step (batch, extern, interactive, 0, 1, ...)
 *   123;cluster    sbatch --parsable with -M
 */
export interface JobId {
  jobId: number;
  arrayTask?: number;
  /** Task ranges of a pending array record, expanded when small; see `taskSpec`. */
  arrayTasks?: number[];
  taskSpec?: string;
  throttle?: number;
  hetOffset?: number;
  step?: string;
  cluster?: string;
}

const JOB_ID = /^(\d+)(?:_(\d+)|_\[([^\]]*)\]?)?(?:\+(\d+))?(?:\.([A-Za-z0-9_]+))?(?:;(.+))?$/;

export class JobIdError extends Error {
  constructor(text: string) {
    super(`not a Slurm job id: ${JSON.stringify(text)}`);
    this.name = "JobIdError";
  }
}

/** Expands "1,3-5:2" (and a "%N" throttle) into task numbers; null when over `limit` tasks. */
export function expandTaskSpec(spec: string, limit = 100_000): { tasks: number[] | null; throttle?: number } {
  const [ranges = "", throttleText] = spec.split("%");
  const tasks: number[] = [];
  for (const part of ranges.split(",")) {
    if (part === "") continue;
    const m = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part);
    if (!m) throw new JobIdError(spec);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    const step = m[3] === undefined ? 1 : Number(m[3]);
    if (to < from || step < 1) throw new JobIdError(spec);
    if (tasks.length + (to - from) / step + 1 > limit) return { tasks: null, ...(throttleText ? { throttle: Number(throttleText) } : {}) };
    for (let t = from; t <= to; t += step) tasks.push(t);
  }
  return { tasks, ...(throttleText ? { throttle: Number(throttleText) } : {}) };
}

export function parseJobId(text: string): JobId {
  const trimmed = text.trim();
  const m = JOB_ID.exec(trimmed);
  if (!m) throw new JobIdError(text);
  const [, job, task, spec, het, step, cluster] = m;
  const id: JobId = { jobId: Number(job) };
  if (task !== undefined) id.arrayTask = Number(task);
  if (spec !== undefined) {
    id.taskSpec = spec;
    // squeue's %.18i can cut the closing bracket; the tasks then cannot be trusted.
    if (trimmed.includes("]")) {
      const { tasks, throttle } = expandTaskSpec(spec.replace(/\.\.\.$/, ""));
      if (tasks) id.arrayTasks = tasks;
      if (throttle !== undefined) id.throttle = throttle;
    }
  }
  if (het !== undefined) id.hetOffset = Number(het);
  if (step !== undefined) id.step = step;
  if (cluster !== undefined) id.cluster = cluster;
  return id;
}

/** The `sbatch --parsable` answer: "123" or "123;cluster". */
export function parseSbatchParsable(stdout: string): { jobId: string; cluster?: string } {
  const line = stdout.trim().split(/\r?\n/).pop() ?? "";
  const m = /^(\d+)(?:;(\S+))?$/.exec(line.trim());
  if (!m) throw new JobIdError(line);
  return m[2] ? { jobId: m[1]!, cluster: m[2] } : { jobId: m[1]! };
}

