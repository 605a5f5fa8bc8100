/**
 * The resource keys slurm-render understands and the sbatch option each becomes. Keys are the
 * snake_case names of core's `Resources` (a profile may also spell them with dashes).
 */
import { parseDuration, parseMemory } from "@slurmpipe/core";

export const RESOURCE_OPTIONS = {
  account: "--account",
  partition: "--partition",
  qos: "--qos",
  reservation: "--reservation",
  nodes: "--nodes",
  ntasks: "--ntasks",
  ntasks_per_node: "--ntasks-per-node",
  gpus: "--gpus",
  gpus_per_node: "--gpus-per-node",
  gpus_per_task: "--gpus-per-task",
  gres: "--gres",
  cpus_per_task: "--cpus-per-task",
  cpus_per_gpu: "--cpus-per-gpu",
  mem: "--mem",
  mem_per_cpu: "--mem-per-cpu",
  mem_per_gpu: "--mem-per-gpu",
  time: "--time",
  constraint: "--constraint",
  exclude: "--exclude",
  nodelist: "--nodelist",
} as const;

export type ResourceKey = keyof typeof RESOURCE_OPTIONS;
export const RESOURCE_KEYS = Object.keys(RESOURCE_OPTIONS) as ResourceKey[];
/** Keys of `resources` that are not directives but are merged the same way. */
export const NON_DIRECTIVE_KEYS = ["extra", "env", "setup"] as const;

const INTEGER_KEYS = new Set<ResourceKey>(["nodes", "ntasks", "ntasks_per_node", "gpus_per_node", "gpus_per_task", "cpus_per_task", "cpus_per_gpu"]);

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

/** Problems with one resolved directive value, as messages; empty when fine. */
export function validateValue(key: ResourceKey, value: string | number): string[] {
  const text = String(value);
  const problems: string[] = [];
  if (key === "time" && parseDuration(text) === undefined && !/^(UNLIMITED|INFINITE)$/i.test(text)) {
    problems.push(`invalid time ${JSON.stringify(text)}: use [D-]HH:MM:SS, MM:SS, D-HH or minutes`);
  }
  if ((key === "mem" || key === "mem_per_cpu" || key === "mem_per_gpu") && parseMemory(text) === undefined) {
    problems.push(`invalid memory ${JSON.stringify(text)}: use a number with K, M, G or T (e.g. 32G)`);
  }
  if (isIntegerKey(key) && !/^\d+$/.test(text)) problems.push(`expected a whole number, got ${JSON.stringify(text)}`);
  return problems;
}
