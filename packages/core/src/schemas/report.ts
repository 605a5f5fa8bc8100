import * as z from "zod";

export const LossTrend = z.enum(["DECREASING", "FLAT", "DIVERGING", "NAN", "NO_DATA"]);
export type LossTrend = z.infer<typeof LossTrend>;

/** Where in which file a finding was seen. */
export const Evidence = z.looseObject({
  file: z.string(),
  line: z.number().int().positive(),
  text: z.string(),
});
export type Evidence = z.infer<typeof Evidence>;

export const FailureClass = z.enum([
  "CUDA_OOM",
  "HOST_OOM",
  "TIME_LIMIT",
  "PREEMPTED",
  "NODE_FAIL",
  "NCCL",
  "SEGFAULT",
  "ILLEGAL_MEMORY_ACCESS",
  "ECC_XID",
  "PYTHON_EXCEPTION",
  "IMPORT_ERROR",
  "DISK_FULL",
  "NAN_LOSS",
  "CANCELLED",
  "UNKNOWN",
]);
export type FailureClass = z.infer<typeof FailureClass>;

/** What a retry pipeline can do about a failure, as data. */
export const SuggestedAction = z.looseObject({
  action: z.enum(["increase_mem", "reduce_batch", "increase_time", "requeue", "lower_lr", "clip_grad", "exclude_node", "retry", "fix_environment", "do_not_retry", "free_disk", "investigate"]),
  retry: z.boolean(),
  /** Suggested changes to resources or params, e.g. {"resources": {"mem": "38G"}}. */
  changes: z.record(z.string(), z.unknown()).optional(),
  note: z.string().optional(),
});
export type SuggestedAction = z.infer<typeof SuggestedAction>;

export const Failure = z.looseObject({
  class: FailureClass,
  message: z.string(),
  evidence: z.array(Evidence).optional(),
  suggested: SuggestedAction.optional(),
});
export type Failure = z.infer<typeof Failure>;

export const MetricPoint = z.looseObject({
  step: z.number(),
  value: z.number().nullable(), // null encodes NaN/inf in JSON; see `raw`
  raw: z.string().optional(),
});

export const LogReport = z.looseObject({
  files: z
    .array(
      z.looseObject({
        path: z.string(),
        role: z.string(),
        exists: z.boolean(),
        lines: z.number().int().nonnegative().optional(),
        bytes: z.number().int().nonnegative().optional(),
      }),
    )
    .optional(),
  steps_seen: z.number().int().nonnegative().optional(),
  loss: z
    .looseObject({
      first: z.number().nullable().optional(),
      last: z.number().nullable().optional(),
      min: z.number().nullable().optional(),
      trend: LossTrend,
      first_nonfinite: z.looseObject({ step: z.number().optional(), raw: z.string(), file: z.string(), line: z.number() }).optional(),
    })
    .optional(),
  /** Metric series, downsampled to a bounded number of points per metric. */
  series: z.record(z.string(), z.array(MetricPoint)).optional(),
  failures: z.array(Failure).optional(),
  benign_warnings: z.number().int().nonnegative().optional(),
  flags: z.array(z.looseObject({ flag: z.string(), message: z.string() })).optional(),
  ok: z.boolean().optional(),
});
export type LogReport = z.infer<typeof LogReport>;
