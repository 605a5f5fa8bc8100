import { type Failure, type RunScript, type SuggestedAction, canonicalJson, formatMemory, shellQuoteForDisplay as shellQuote } from "@slurmpipe/core";
import { codeSpan, mdText, oneLine } from "./format.ts";
import { isFailed } from "./status.ts";
import type { RunView } from "./view.ts";

/**
 * The exact commands to rerun what failed or is missing, as copy-pasteable pipelines:
 *   jq -c 'select(.id | IN("a","b"))' expected.ndjson | slurm-render --mem 38G | slurm-submit --resubmit failed
 * Runs are grouped by the suggested action and, within it, by identical changes, so one
 * pipeline covers every run that needs the same fix.
 */

export interface RerunOptions {
  /** NDJSON file holding the run specs (--expected), used as the pipeline's source. */
  source?: string;
  /** Cluster profile for slurm-render. */
  profile?: string;
}

type RenderedWith = NonNullable<RunScript["rendered_with"]>;

export interface RerunGroup {
  action: Action | "submit" | "fix_then_submit";
  retry: boolean;
  changes: Record<string, unknown>;
  note?: string;
  runs: RunView[];
  /** How the runs' scripts were rendered (slurm-render's `script.rendered_with`); "sweep": taken from the other runs of the report. */
  rendered?: { with: RenderedWith; from: "record" | "sweep" };
  backend?: string;
  command: string;
}

type Action = SuggestedAction["action"];

const ACTION_ORDER: RerunGroup["action"][] = [
  "submit",
  "fix_then_submit",
  "increase_mem",
  "reduce_batch",
  "increase_time",
  "requeue",
  "exclude_node",
  "lower_lr",
  "clip_grad",
  "retry",
  "free_disk",
  "fix_environment",
  "investigate",
  "do_not_retry",
];

const ACTION_TITLES: Record<RerunGroup["action"], string> = {
  submit: "Submit runs that never ran",
  fix_then_submit: "Not submitted because of an error: fix it, then submit",
  increase_mem: "Out of memory: rerun with more memory",
  reduce_batch: "Out of memory: rerun with a smaller batch",
  increase_time: "Time limit: rerun with a longer time limit",
  requeue: "Interrupted (preempted / requeue): resubmit as is",
  exclude_node: "Node or network failure: resubmit avoiding the node",
  lower_lr: "NaN / divergence: rerun with a lower learning rate",
  clip_grad: "NaN / divergence: rerun with gradient clipping",
  retry: "Resubmit as is",
  free_disk: "Disk full: free space, then resubmit",
  fix_environment: "Environment problem: fix it, then resubmit",
  investigate: "Unexplained failures: read the logs, then resubmit",
  do_not_retry: "Code errors: fix the code before rerunning",
};

/** The action a failed (or completed-but-broken) run needs; undefined when it needs none. */
export function rerunAction(view: RunView): { suggested: SuggestedAction; failure?: Failure } | undefined {
  if (view.status === "MISSING" || view.status === "NOT_SUBMITTED" || view.status === "SUBMIT_ERROR")
    return { suggested: { action: "retry", retry: true } };
  const withAdvice = view.failures.find((f) => f.suggested);
  if (isFailed(view.status)) {
    if (withAdvice?.suggested) return { suggested: withAdvice.suggested, failure: withAdvice };
    return { suggested: fallback(view) };
  }
  // A COMPLETED run whose loss went NaN (or similar) is finished but not usable.
  if (view.status === "COMPLETED" && withAdvice?.suggested && withAdvice.suggested.action !== "investigate")
    return { suggested: withAdvice.suggested, failure: withAdvice };
  return undefined;
}

/** Advice from the Slurm state alone, for runs log-parse has not looked at. */
function fallback(view: RunView): SuggestedAction {
  const state = view.record?.state;
  switch (view.status) {
    case "OUT_OF_MEMORY": {
      const rss = state?.max_rss_bytes;
      const req = state?.req_mem_bytes;
      const target = rss && (!req || rss * 1.2 > req) ? rss * 1.2 : req ? req * 1.5 : undefined;
      return target
        ? { action: "increase_mem", retry: true, changes: { resources: { mem: formatMemory(target) } }, note: rss && target === rss * 1.2 ? "MaxRSS x 1.2" : "requested memory x 1.5" }
        : { action: "increase_mem", retry: true, note: "raise --mem" };
    }
    case "TIMEOUT": {
      const limit = state?.time_limit_s;
      return limit
        ? { action: "increase_time", retry: true, changes: { resources: { time: slurmTime(limit * 1.5) } }, note: "time limit x 1.5" }
        : { action: "increase_time", retry: true };
    }
    case "PREEMPTED":
      return { action: "requeue", retry: true };
    case "NODE_FAIL":
      return state?.node_list
        ? { action: "exclude_node", retry: true, changes: { resources: { exclude: state.node_list } } }
        : { action: "retry", retry: true };
    case "CANCELLED":
      return { action: "retry", retry: true, note: "cancelled: resubmit only if that was not on purpose" };
    default:
      return { action: "investigate", retry: true, note: "no log report: run log-parse for the cause" };
  }
}

/** Rounds up to whole minutes and prints as sbatch --time takes it. */
export function slurmTime(seconds: number): string {
  const s = Math.ceil(seconds / 60) * 60;
  const d = Math.floor(s / 86400);
  const h = String(Math.floor((s % 86400) / 3600)).padStart(2, "0");
  const m = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
  return d > 0 ? `${d}-${h}:${m}:00` : `${h}:${m}:00`;
}

export function buildReruns(views: readonly RunView[], options: RerunOptions): RerunGroup[] {
  const groups = new Map<string, RerunGroup>();
  const sweepRender = onlyRenderedWith(views);
  for (const view of views) {
    const found = rerunAction(view);
    if (!found) continue;
    const fresh = view.status === "MISSING" || view.status === "NOT_SUBMITTED" || view.status === "SUBMIT_ERROR";
    // An error before submission (sweep-gen, slurm-render) comes back unchanged until its cause is fixed.
    const stageError = view.status === "NOT_SUBMITTED" && view.record?.error !== undefined;
    const action = stageError ? "fix_then_submit" : fresh ? "submit" : found.suggested.action;
    const changes = fresh ? {} : (found.suggested.changes ?? {});
    const own = view.record?.script?.rendered_with;
    const rendered = own ? { with: own, from: "record" as const } : sweepRender ? { with: sweepRender, from: "sweep" as const } : undefined;
    const backend = view.record?.job?.backend === "local" ? "local" : undefined;
    const key = [action, canonicalJson(changes), view.status === "COMPLETED" ? "c" : "f", rendered ? canonicalJson(rendered) : "", backend ?? ""].join("\u0000");
    let group = groups.get(key);
    if (!group) {
      group = { action, retry: fresh || found.suggested.retry, changes, runs: [], command: "", ...(rendered ? { rendered } : {}), ...(backend ? { backend } : {}) };
      if (!fresh && found.suggested.note) group.note = found.suggested.note;
      groups.set(key, group);
    }
    group.runs.push(view);
  }
  const list = [...groups.values()];
  for (const g of list) g.command = pipeline(g, options);
  return list.sort((a, b) => ACTION_ORDER.indexOf(a.action) - ACTION_ORDER.indexOf(b.action) || canonicalJson(a.changes).localeCompare(canonicalJson(b.changes), "en"));
}

/**
 * The pipeline that reproduces the render and applies the fix. slurm-render is given the flags it
 * was first run with (`script.rendered_with.args`) and then the suggested resource changes as
 * flags of their own (`--mem 38G`): slurm-render takes the last of a repeated flag, so the fix
 * wins over the old value. Parameter changes are made to the record by jq before the render,
 * in `params` and in the command's `key=value` arguments.
 */
function pipeline(group: RerunGroup, options: RerunOptions): string {
  const ids = group.runs.map((r) => JSON.stringify(r.id)).join(",");
  let program = `select(.id | IN(${ids}))`;
  const flags: string[] = [];
  for (const [key, value] of Object.entries(group.changes).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (key === "resources" && value && typeof value === "object") {
      for (const [res, v] of Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
        flags.push(`--${res.replace(/_/g, "-")}`, shellQuote(String(v)));
    } else if (key === "params" && value && typeof value === "object" && !Array.isArray(value)) {
      for (const [param, v] of Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1))) program += paramAssignment(param, v);
    } else {
      program += assignments(`.${jqKey(key)}`, value);
    }
  }
  const source = options.source ?? "runs.ndjson";
  const render = ["slurm-render", ...renderArgs(group, options).map((a) => shellQuote(a)), ...flags].join(" ");
  const resubmit =
    group.action === "submit" || group.action === "fix_then_submit"
      ? []
      : group.runs.some((r) => r.status === "COMPLETED")
        ? ["--resubmit", "COMPLETED"]
        : ["--resubmit", "failed"];
  const submit = ["slurm-submit", ...(group.backend ? ["--backend", group.backend] : []), ...resubmit].join(" ");
  return `jq -c ${shellQuote(program)} ${shellQuote(source)} | ${render} | ${submit}`;
}

/** slurm-render's arguments as recorded (with the profile, if the record names it apart), else the --profile given to summary-md. */
function renderArgs(group: RerunGroup, options: RerunOptions): string[] {
  const recorded = group.rendered?.with;
  if (!recorded) return options.profile ? ["--profile", options.profile] : [];
  const args = [...recorded.args];
  const hasProfile = args.some((a) => a === "--profile" || a.startsWith("--profile="));
  if (recorded.profile && !hasProfile) args.unshift("--profile", recorded.profile);
  return args;
}

/** The only `rendered_with` of the report's runs, for runs that have none (never rendered, MISSING); undefined when they differ. */
function onlyRenderedWith(views: readonly RunView[]): RenderedWith | undefined {
  let found: RenderedWith | undefined;
  let key: string | undefined;
  for (const v of views) {
    const r = v.record?.script?.rendered_with;
    if (!r) continue;
    const k = canonicalJson(r);
    if (key !== undefined && k !== key) return undefined;
    found = r;
    key = k;
  }
  return found;
}

/** `.params.lr = 0.1`, and the command's `lr=...` argument (sweep-gen's `args: hydra`) rewritten to match. */
function paramAssignment(param: string, value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  const arg = JSON.stringify(`${param}=${text}`);
  return ` | .params.${jqKey(param)} = ${JSON.stringify(value)} | .command |= (if type == "array" then map(if startswith(${JSON.stringify(`${param}=`)}) then ${arg} else . end) else . end)`;
}

function assignments(path: string, value: unknown): string {
  if (value && typeof value === "object" && !Array.isArray(value))
    return Object.entries(value as Record<string, unknown>)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => assignments(`${path}.${jqKey(k)}`, v))
      .join("");
  return ` | ${path} = ${JSON.stringify(value)}`;
}

function jqKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : JSON.stringify(key);
}

const UNKNOWN_FLAGS =
  "The render flags of these runs are unknown (their records do not say how slurm-render made their scripts: `script.rendered_with`, recorded by newer versions): add the flags you rendered with (`--account`, `--out`, `--venv`, ...) to `slurm-render`.";

/** The "Rerun" section of the status report. */
export function rerunMarkdown(groups: readonly RerunGroup[], options: RerunOptions): string[] {
  if (groups.length === 0) return [];
  const out = ["## Rerun", ""];
  if (!options.source)
    out.push(
      "The pipelines read the run specs from `runs.ndjson`: point them at your sweep-gen output (or pass `--expected FILE` and they will).",
      "",
    );
  if (groups.some((g) => g.rendered))
    out.push(
      "Run them in the directory the runs were rendered in: `slurm-render` gets the flags it was first run with (relative paths included), then the suggested changes, which win (the last of a repeated flag counts). `slurm-submit` uses `.slurmpipe` there: add `--state DIR` if you submitted with one.",
      "",
    );
  const noneRendered = groups.every((g) => !g.rendered);
  if (noneRendered) out.push(UNKNOWN_FLAGS, "");
  if (!options.profile && groups.some((g) => !g.rendered)) out.push("Add `--profile <cluster>` to `slurm-render` if your pipeline uses one (or pass `--profile` to summary-md).", "");
  for (const g of groups) {
    out.push(`### ${ACTION_TITLES[g.action]} (${g.runs.length})`, "");
    const names = g.runs.map((r) => `${mdText(r.name)} (${r.status}${r.jobId ? `, job ${mdText(r.jobId)}` : ""})`);
    out.push(`Runs: ${names.join(", ")}`, "");
    if (g.note) out.push(`Why: ${mdText(g.note, 300)}`, "");
    if (g.action === "fix_then_submit") {
      for (const r of g.runs) if (r.record?.error) out.push(`- ${mdText(r.name)}: ${mdText(r.record.error.stage)}${r.record.error.code ? ` (${codeSpan(r.record.error.code)})` : ""}: ${mdText(oneLine(r.record.error.message, 300), 300)}`);
      out.push("", "Fix what the errors say (then rerun the stage that failed, or:)", "");
    }
    if (g.action !== "submit" && g.action !== "fix_then_submit" && !g.retry) out.push("Do not resubmit unchanged: fix the cause first, then run:", "");
    const params = Object.keys(g.changes).filter((k) => k !== "resources");
    if (params.length)
      out.push(
        `The jq step changes ${params.map((p) => `\`${p}\``).join(", ")} in the record (and a \`key=value\` argument of the command with the same name); this only takes effect if the training command is built from them (otherwise change the sweep and rerun sweep-gen).`,
        "",
      );
    if (!g.rendered && !noneRendered) out.push(UNKNOWN_FLAGS, "");
    else if (g.rendered && g.rendered.from === "sweep") out.push("These runs have no script yet: the render flags are those every other run of this report was rendered with.", "");
    out.push("```sh", g.command, "```", "");
  }
  return out;
}
