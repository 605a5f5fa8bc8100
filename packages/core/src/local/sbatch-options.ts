/**
 * The values of sbatch options the local backend reads with their own grammar: `--signal` and the
 * memory request (`--mem` / `--mem-per-cpu`).
 */
import { constants } from "node:os";
import { parseMemory } from "../slurm/units.ts";
import { ArgError, type ParsedArgs, last } from "./args.ts";
import type { LocalJob } from "./store.ts";

/**
 * `--signal=[{R|B}:]SIG[@T]` (slurm-facts §7.2): SIG by name (`TERM`, `SIGTERM`) or number, T in
 * 0..65535 s (default 60). undefined: not given; null: malformed (sbatch exits 255).
 */
export function parseSignal(text: string | undefined): LocalJob["warn_signal"] | null | undefined {
  if (text === undefined) return undefined;
  const m = /^(?:([RB]):)?(?:SIG)?([A-Z0-9]+)(?:@(\d+))?$/i.exec(text);
  if (!m) return null;
  const seconds = m[3] === undefined ? 60 : Number(m[3]);
  const numbers = constants.signals as Record<string, number>;
  const byNumber = Object.keys(numbers).find((n) => numbers[n] === Number(m[2]));
  const signal = /^\d+$/.test(m[2]!) ? byNumber : numbers[`SIG${m[2]!.toUpperCase()}`] !== undefined ? `SIG${m[2]!.toUpperCase()}` : undefined;
  if (!signal || seconds > 65535) return null;
  return { signal, seconds, batch: m[1]?.toUpperCase() === "B" };
}

const MB = 1024 * 1024;

/**
 * The memory a job asks for, in MB: `--mem` (per node) or `--mem-per-cpu` times the CPUs
 * (`--cpus-per-task` x `--ntasks`). The command line wins over #SBATCH lines, as a whole: a
 * `--mem-per-cpu` given to sbatch replaces a script's `--mem`. Bare numbers are MB, as in sbatch.
 */
export function requestedMemory(cli: ParsedArgs, script: ParsedArgs): { mb: number; perCpuMb?: number } | undefined {
  const level = last(cli, "mem") !== undefined || last(cli, "mem-per-cpu") !== undefined ? cli : script;
  const mem = last(level, "mem");
  const perCpu = last(level, "mem-per-cpu");
  if (mem !== undefined && perCpu !== undefined) throw new ArgError("--mem, --mem-per-cpu, and --mem-per-gpu are mutually exclusive.");
  const text = mem ?? perCpu;
  if (text === undefined) return undefined;
  const bytes = parseMemory(text);
  if (bytes === undefined) throw new ArgError(`invalid memory constraint ${text}`);
  const mb = Math.ceil(bytes / MB);
  if (mem !== undefined) return { mb };
  const count = (o: string) => {
    const v = last(cli, o) ?? last(script, o);
    const n = v === undefined ? 1 : Number(v);
    return Number.isInteger(n) && n > 0 ? n : 1;
  };
  return { mb: mb * count("cpus-per-task") * count("ntasks"), perCpuMb: mb };
}
