/**
 * The resource keys slurm-render understands and the sbatch option each becomes. Keys are the
 * snake_case names of core's `Resources` (a profile may also spell them with dashes).
 */
import { parseDuration, parseMemory } from "@slurmpipe/core";
import { INTEGER_KEYS, MEMORY_KEYS, type ResourceKey } from "./resource-keys.ts";

export { RESOURCE_OPTIONS, RESOURCE_KEYS, INTEGER_KEYS, MEMORY_KEYS, flagName, type ResourceKey } from "./resource-keys.ts";

/** Keys of `resources` that are not directives but are merged the same way. */
export const NON_DIRECTIVE_KEYS = ["extra", "env", "setup"] as const;

export function isIntegerKey(key: ResourceKey): boolean {
  return INTEGER_KEYS.has(key);
}

/** `gpus-per-node` -> `gpus_per_node`. */
export function normalizeKey(key: string): string {
  return key.replace(/-/g, "_");
}

/**
 * sbatch long options (22.05 through 25.x) accepted in `extra` directives by --check. A typo here
 * would make sbatch exit 255 with "unrecognized option" at submission time, long after rendering.
 */
export const SBATCH_OPTIONS = new Set(
  [
    "account", "acctg-freq", "array", "batch", "bb", "bbf", "begin", "chdir", "cluster-constraint", "clusters", "comment",
    "constraint", "container", "container-id", "contiguous", "core-spec", "cores-per-socket", "cpu-freq", "cpus-per-gpu",
    "cpus-per-task", "deadline", "delay-boot", "dependency", "distribution", "error", "exclude", "exclusive", "export",
    "export-file", "extra", "extra-node-info", "get-user-env", "gid", "gpu-bind", "gpu-freq", "gpus", "gpus-per-node",
    "gpus-per-socket", "gpus-per-task", "gres", "gres-flags", "hint", "hold", "ignore-pbs", "input", "job-name",
    "kill-on-invalid-dep", "licenses", "mail-type", "mail-user", "mcs-label", "mem", "mem-bind", "mem-per-cpu",
    "mem-per-gpu", "mincpus", "network", "nice", "no-kill", "no-requeue", "nodefile", "nodelist", "nodes", "ntasks",
    "ntasks-per-core", "ntasks-per-gpu", "ntasks-per-node", "ntasks-per-socket", "open-mode", "output", "overcommit",
    "oversubscribe", "partition", "power", "prefer", "priority", "profile", "propagate", "qos", "quiet", "reboot",
    "requeue", "reservation", "segment", "signal", "sockets-per-node", "spread-job", "switches", "thread-spec",
    "threads-per-core", "time", "time-min", "tmp", "tres-bind", "tres-per-task", "uid", "use-min-nodes", "verbose",
    "wait-all-nodes", "wckey", "wrap",
  ],
);

/** Short options sbatch accepts in directives, mapped to their long names. */
export const SBATCH_SHORT_OPTIONS: Record<string, string> = {
  A: "account", a: "array", b: "begin", C: "constraint", c: "cpus-per-task", D: "chdir", d: "dependency", e: "error",
  G: "gpus", H: "hold", i: "input", J: "job-name", k: "no-kill", L: "licenses", M: "clusters", m: "distribution",
  N: "nodes", n: "ntasks", O: "overcommit", o: "output", p: "partition", q: "qos", Q: "quiet", s: "oversubscribe",
  S: "core-spec", t: "time", v: "verbose", W: "wait", w: "nodelist", x: "exclude",
};

/** The long option name of an extra directive like `--gres=gpu:1`, `-C a100` or `--exclusive`. */
export function directiveOptionName(directive: string): string | undefined {
  const long = /^--([A-Za-z][\w-]*)(?:[=\s]|$)/.exec(directive);
  if (long) return long[1];
  const short = /^-([A-Za-z])(?:\s|$|\S)/.exec(directive);
  if (short) return SBATCH_SHORT_OPTIONS[short[1]!];
  return undefined;
}

/** The forms sbatch accepts, as told in messages. */
export const ACCEPTED_FORMS = {
  time: "[D-]HH:MM:SS, MM:SS, D-HH[:MM], whole minutes or UNLIMITED",
  memory: "a whole number with an optional unit K, M, G or T (e.g. 32G or 4000M; bare = megabytes)",
  integer: "a whole number",
} as const;

/** Keys whose value must be at least 1 (sbatch refuses 0 nodes, tasks or CPUs). */
const POSITIVE_KEYS = new Set<ResourceKey>(["nodes", "ntasks", "ntasks_per_node", "cpus_per_task", "cpus_per_gpu"]);

/**
 * Problems with one resolved directive value, as messages; empty when fine. As strict as sbatch
 * 22.05-25.x itself: `--mem=1.5G` and `--time=2h` are refused there ("Invalid --mem
 * specification"), so they are refused here before anything is submitted.
 */
export function validateValue(key: ResourceKey, value: string | number): string[] {
  const text = String(value);
  if (key === "time" && (text !== text.trim() || typeof parseDuration(text) !== "number") && !/^(UNLIMITED|INFINITE)$/i.test(text)) {
    return [`invalid time ${JSON.stringify(text)}: use ${ACCEPTED_FORMS.time}`];
  }
  if (MEMORY_KEYS.has(key) && (!/^\d+[KMGT]?$/i.test(text) || parseMemory(text) === undefined)) {
    return [`invalid memory ${JSON.stringify(text)}: use ${ACCEPTED_FORMS.memory}`];
  }
  if (INTEGER_KEYS.has(key) && (!/^\d+$/.test(text) || (POSITIVE_KEYS.has(key) && Number(text) < 1))) {
    return [`expected ${POSITIVE_KEYS.has(key) ? "a whole number of at least 1" : ACCEPTED_FORMS.integer}, got ${JSON.stringify(text)}`];
  }
  return [];
}

/** Whether two values of a key ask for the same thing ("38G" and "38912M", "120" and "02:00:00"). */
export function sameValue(key: ResourceKey, a: string | number, b: string | number): boolean {
  if (String(a) === String(b)) return true;
  if (key === "time") {
    const [x, y] = [parseDuration(String(a)), parseDuration(String(b))];
    return typeof x === "number" && x === y;
  }
  if (MEMORY_KEYS.has(key)) {
    const [x, y] = [parseMemory(String(a)), parseMemory(String(b))];
    return x !== undefined && x === y;
  }
  if (INTEGER_KEYS.has(key)) return String(a).trim() !== "" && Number(a) === Number(b);
  return false;
}
