// @slurmpipe/slurm-render: run specs + a cluster profile -> sbatch scripts.
export * from "./render.ts";
export * from "./profile.ts";
export * from "./resolve.ts";
export * from "./script.ts";
export * from "./directives.ts";
export * from "./check.ts";
