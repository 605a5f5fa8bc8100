/** What a file is, for the manifest and for deciding what to compress. */
export type Role = "checkpoint" | "log" | "metrics" | "config" | "script" | "other";

const CHECKPOINT_EXT = /\.(ckpt|pt|pth|safetensors|bin)$/i;
/** Already compressed: compressing again costs time and saves nothing. */
const COMPRESSED_EXT = /\.(gz|tgz|zst|zstd|xz|bz2|zip|7z|lz4|br|npz|parquet|png|jpe?g)$/i;

export function classify(relPath: string): Role {
  const base = relPath.split("/").pop() ?? relPath;
  if (CHECKPOINT_EXT.test(base)) return "checkpoint";
  if (/^metrics\.(csv|jsonl?|ndjson)$/i.test(base) || /^events\.out\.tfevents\./.test(base)) return "metrics";
  if (/\.(out|err|log)$/i.test(base) || /^slurm-\d+(_\d+)?\.out$/.test(base)) return "log";
  if (/\.(ya?ml|json|toml|cfg|ini)$/i.test(base)) return "config";
  if (/\.(sh|sbatch|slurm|py)$/i.test(base)) return "script";
  return "other";
}

/** Checkpoint-like files and anything over the threshold are stored gzip-compressed, one file each. */
export function shouldCompress(relPath: string, size: number, compressOver: number): boolean {
  const base = relPath.split("/").pop() ?? relPath;
  if (COMPRESSED_EXT.test(base)) return false;
  return CHECKPOINT_EXT.test(base) || size > compressOver;
}
