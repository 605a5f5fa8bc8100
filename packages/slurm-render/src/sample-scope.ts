/**
 * Which `--sample` overrides are allowed. The sample-run skill (000, step 2): a sample run reduces
 * scope (steps, epochs, checkpointing, validation, logging frequency, dataset size limits) and never
 * changes the model, the optimizer or the data. So a scope setting may be overridden even when the
 * sweep sets it in `params` (max_steps is usually there), any other parameter of the run may not,
 * and model, optimizer, learning-rate and data settings never.
 *
 * Keys are compared normalized: lower case, `-` as `_`, without leading dashes or Hydra's `+`/`++`/`~`,
 * split at `.` into path segments (`trainer.max_steps` -> `trainer`, `max_steps`).
 */

/** Scope settings by exact name (Lightning, HF Trainer, nanoGPT, Megatron, torchtune, plain scripts). */
export const SCOPE_KEYS: ReadonlySet<string> = new Set([
  // length of the run
  "steps", "max_steps", "num_steps", "train_steps", "num_train_steps", "max_train_steps",
  "epochs", "max_epochs", "num_epochs", "n_epochs", "num_train_epochs",
  "iters", "max_iters", "num_iters", "train_iters", "max_time", "fast_dev_run",
  // validation
  "val_check_interval", "check_val_every_n_epoch", "num_sanity_val_steps", "do_eval",
  // checkpointing
  "enable_checkpointing", "always_save_checkpoint",
  // logging frequency (not the logger: the sample needs the same output)
  "logging_steps", "logging_first_step", "logging_strategy", "log_interval", "log_freq", "print_freq",
  // dataset size limits
  "max_samples", "max_train_samples", "max_eval_samples",
  // groups whose settings are all scope (checkpoint.enabled=false, val.enabled=false)
  "checkpoint", "checkpoints", "checkpointing", "ckpt", "model_checkpoint", "val", "validation", "eval", "evaluation",
]);

/** Scope settings by prefix: limit_train_batches, eval_steps, save_steps, checkpoint_every, log_every_n_steps, ... */
export const SCOPE_PREFIXES: readonly string[] = ["limit_", "eval_", "evaluation_", "val_", "validation_", "save_", "checkpoint_", "ckpt_", "log_every"];

/** Model and optimizer settings: refused, and a scope key under them is theirs (optimizer.steps is a schedule). */
export const MODEL_OPTIMIZER_KEYS: ReadonlySet<string> = new Set([
  "model", "arch", "architecture", "width_multiplier", "optimizer", "optim", "lr", "learning_rate", "weight_decay", "wd",
  "betas", "momentum", "scheduler", "lr_scheduler", "warmup", "seed",
]);

/** Data settings: refused unless the key is a scope key (data.max_samples limits the dataset's size, data=imagenet changes it). */
export const DATA_KEYS: ReadonlySet<string> = new Set(["data", "dataset", "datasets", "datamodule", "preprocess", "preprocessing", "augment", "augmentation", "tokenizer"]);

export function isScopeSegment(segment: string): boolean {
  return SCOPE_KEYS.has(segment) || SCOPE_PREFIXES.some((p) => segment.startsWith(p));
}

/** The key an override sets (`--max-steps`, `+trainer.max_steps=1`), normalized; undefined for a bare value (`50`). */
export function overrideKey(item: string): string | undefined {
  const key = /^(?:--?)?[+~]*([^=\s]+)/.exec(item.trim())?.[1];
  if (!key || /^[\d.+-]/.test(key)) return undefined;
  return key.toLowerCase().replace(/-/g, "_");
}

/** Words of a segment (`learning_rate` -> `learning`, `rate`, `learning_rate`): `model_name_or_path` is a model setting. */
function words(segment: string): string[] {
  return [segment, ...segment.split("_")];
}

/**
 * Why the override of `key` (normalized, see overrideKey) must be refused in a sample run, or
 * undefined when it only reduces scope or touches no swept, model, optimizer or data setting.
 */
export function sampleOverrideProblem(key: string, params: Record<string, unknown>): string | undefined {
  const path = key.split(".").filter((s) => s !== "");
  const scopeAt = path.findIndex(isScopeSegment);
  if (scopeAt >= 0) {
    const owner = path.slice(0, scopeAt).flatMap(words).find((w) => MODEL_OPTIMIZER_KEYS.has(w));
    return owner ? `the ${owner}` : undefined;
  }
  const bad = path.flatMap(words).find((w) => MODEL_OPTIMIZER_KEYS.has(w) || DATA_KEYS.has(w));
  if (bad) return `the ${bad}`;
  const swept = new Set(Object.keys(params).map((k) => k.toLowerCase().replace(/-/g, "_")));
  if (swept.has(key) || swept.has(path[path.length - 1]!)) return "a swept parameter";
  return undefined;
}
