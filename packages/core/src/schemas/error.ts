import * as z from "zod";

/**
 * A record a stage could not process. Stages attach it as `error` to the record that failed
 * (so the record keeps flowing and can be rerun) and exit 1 at the end.
 */
export const StageError = z.looseObject({
  stage: z.string(),
  message: z.string(),
  /** Machine-readable cause, e.g. "invalid_partition", "qos_limit", "sbatch_failed". */
  code: z.string().optional(),
  at: z.string().optional(),
});
export type StageError = z.infer<typeof StageError>;
