/**
 * What the job runner (runner-process.ts) gives a job's batch script: Slurm's environment for a
 * one-node job, and the local backend's shims (step-shims.ts) first on PATH. Node builtins and
 * types only: bundled into the runner's text.
 */
import type { LocalJob } from "./store.ts";

/** PATH when the submitting environment had none (`--export=NONE`), as a login shell's. */
const DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin";

export function jobEnvironment(job: LocalJob, where: { dir: string; host: string; shims: string }): Record<string, string> {
  const { host } = where;
  const env: Record<string, string> = {
    ...job.env,
    SLURM_JOB_ID: String(job.raw_id),
    SLURM_JOBID: String(job.raw_id),
    SLURM_JOB_NAME: job.name,
    SLURM_SUBMIT_DIR: job.cwd,
    SLURM_SUBMIT_HOST: host,
    SLURM_CLUSTER_NAME: "local",
    SLURM_JOB_PARTITION: job.partition,
    SLURMD_NODENAME: host,
    SLURM_JOB_NODELIST: host,
    SLURM_NODELIST: host,
    SLURM_NNODES: "1",
    SLURM_JOB_NUM_NODES: "1",
    SLURM_CPUS_ON_NODE: "1",
    SLURM_NODEID: "0",
    SLURM_PROCID: "0",
    SLURM_LOCALID: "0",
    SLURM_JOB_USER: job.user,
    // The shims (srun, scontrol, module) come before anything else, a Slurm srun installed here
    // included: it would ask the real slurmctld about this job's id ("Invalid job id").
    PATH: where.shims + ":" + (job.env?.PATH ?? DEFAULT_PATH),
    // Where the shims find this job (and a slurmpipe command run inside the job, this cluster).
    SLURMPIPE_LOCAL_DIR: where.dir,
  };
  if (job.array_job_id !== undefined) Object.assign(env, { SLURM_ARRAY_JOB_ID: String(job.array_job_id), SLURM_ARRAY_TASK_ID: String(job.array_task) });
  if (job.restarts > 0) env.SLURM_RESTART_COUNT = String(job.restarts);
  // As Slurm: only when asked for, in MB; --mem-per-cpu jobs get SLURM_MEM_PER_CPU instead.
  if (job.mem_per_cpu_mb !== undefined) env.SLURM_MEM_PER_CPU = String(job.mem_per_cpu_mb);
  else if (job.mem_mb !== undefined) env.SLURM_MEM_PER_NODE = String(job.mem_mb);
  // Only when asked for, as Slurm: srun runs this many tasks by default.
  if (job.ntasks !== undefined) Object.assign(env, { SLURM_NTASKS: String(job.ntasks), SLURM_NPROCS: String(job.ntasks) });
  if (job.cpus_per_task !== undefined) env.SLURM_CPUS_PER_TASK = String(job.cpus_per_task);
  return env;
}
