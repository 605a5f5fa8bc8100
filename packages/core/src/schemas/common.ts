import * as z from "zod";

/** Version of the record layout. Readers accept records without `v` as version 1. */
export const SCHEMA_VERSION = 1;

export const schemaVersion = z.number().int().positive().optional();

/** Resources a run asks for. Everything optional: profile, run spec and CLI flags are merged. */
export const Resources = z.looseObject({
  account: z.string().optional(),
  partition: z.string().optional(),
  qos: z.string().optional(),
  nodes: z.number().int().positive().optional(),
  ntasks_per_node: z.number().int().positive().optional(),
  gpus_per_node: z.number().int().nonnegative().optional(),
  cpus_per_task: z.number().int().positive().optional(),
  /** Slurm memory string, e.g. "32G". */
  mem: z.string().optional(),
  /** Slurm time string, e.g. "02:00:00" or "1-00:00:00". */
  time: z.string().optional(),
  constraint: z.string().optional(),
  exclude: z.string().optional(),
});
export type Resources = z.infer<typeof Resources>;

