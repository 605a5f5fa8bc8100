import { type RunRecord, parseDuration, shellQuoteForDisplay as shellQuote } from "@slurmpipe/core";
import { codeSpan, formatBytes, formatElapsed, formatNumber, linkTarget, mdText, percent } from "./format.ts";
import { slurmTime } from "./rerun.ts";
import type { RunView } from "./view.ts";

/**
 * `--sample`: the sample-run report of the sample-run workflow: job facts, training facts,
 * resources, files, a READY / NOT READY verdict with its reasons, and a full-run recommendation
 * whose wall time is extrapolated from the sample's seconds per step.
 */

export interface SampleOptions {
  /** The full run's spec (from --expected), if known. */
  full?: RunRecord;
  /** Steps of the full run; else the full run's params.max_steps (or similar). */
  fullSteps?: number;
  /** Safety factor on the extrapolated wall time. */
  margin: number;
  /** Link to the per-run loss plot, relative to the markdown. */
  plot?: string;
  generatedAt: string;
}

export interface Verdict {
  ready: boolean;
  /** Blockers: why NOT READY. */
  reasons: string[];
  /** Worth a look, not blocking (flat loss, benign warnings, ...). */
  warnings: string[];
}

const STEP_KEYS = ["max_steps", "total_steps", "num_steps", "train_steps", "steps", "training.max_steps", "trainer.max_steps"];

/** The checks of the sample-run workflow (5a-5d), each failing one a reason. */
export function verdict(view: RunView): Verdict {
  const reasons: string[] = [];
  const warnings: string[] = [];
  const record = view.record;
  const state = record?.state;
  const report = record?.report;
  if (!record?.job) reasons.push(`the job was not submitted (${view.status})`);
  else if (!state) reasons.push("the job state is unknown: run slurm-poll first");
  else if (view.status !== "COMPLETED")
    reasons.push(state.terminal ? `the job ended ${state.state}, not COMPLETED` : `the job has not finished yet (${state.state})`);
  if (state?.exit_code && state.exit_code !== "0:0") reasons.push(`exit code ${state.exit_code}, expected 0:0`);
  if (record?.error) reasons.push(`${record.error.stage} error: ${record.error.message}`);
  if (!report) reasons.push("no log report: run log-parse on the job's logs");
  const loss = report?.loss;
  if (report && (!loss || loss.trend === "NO_DATA")) reasons.push("no loss values found in the logs");
  if (loss) {
    if (loss.first === null || (typeof loss.first === "number" && !Number.isFinite(loss.first))) reasons.push("the first reported loss is not finite");
    if (loss.first_nonfinite)
      reasons.push(`the loss became ${loss.first_nonfinite.raw}${loss.first_nonfinite.step !== undefined ? ` at step ${loss.first_nonfinite.step}` : ""} (${loss.first_nonfinite.file}:${loss.first_nonfinite.line})`);
    else if (loss.trend === "NAN") reasons.push("the loss became NaN");
    if (loss.trend === "DIVERGING") reasons.push("the loss is diverging (end higher than start)");
    if (loss.trend === "FLAT") warnings.push("the loss is flat: learning rate too low or frozen weights? (not a blocker)");
    if (loss.trend === "DECREASING" && typeof loss.first === "number" && typeof loss.last === "number" && loss.last >= loss.first)
      warnings.push(`the final loss (${formatNumber(loss.last)}) is not below the first (${formatNumber(loss.first)}) although the smoothed trend decreases`);
  }
  for (const f of report?.failures ?? []) {
    if (f.class === "NAN_LOSS" && loss?.first_nonfinite) continue;
    const where = f.evidence?.[0] ? ` (${f.evidence[0].file}:${f.evidence[0].line})` : "";
    reasons.push(`${f.class}: ${f.message}${where}`);
  }
  for (const flag of report?.flags ?? []) reasons.push(`${flag.flag}: ${flag.message}`);
  if (report?.benign_warnings) warnings.push(`${report.benign_warnings} benign warnings in the logs (deprecation, OMP_NUM_THREADS, autotuning)`);
  if (state?.max_rss_bytes && state.req_mem_bytes && state.max_rss_bytes / state.req_mem_bytes > 0.9)
    warnings.push(`peak memory ${formatBytes(state.max_rss_bytes)} is over 90% of the ${formatBytes(state.req_mem_bytes)} requested`);
  return { ready: reasons.length === 0, reasons, warnings };
}

export interface Extrapolation {
  secondsPerStep: number;
  fullSteps: number;
  margin: number;
  seconds: number;
  /** As sbatch --time takes it, rounded up to whole minutes. */
  slurm: string;
}

/** elapsed / steps seen x full steps x margin. Undefined when any input is missing. */
export function extrapolate(elapsedS: number | undefined, stepsSeen: number | undefined, fullSteps: number | undefined, margin: number): Extrapolation | undefined {
  if (!elapsedS || !stepsSeen || !fullSteps || elapsedS <= 0 || stepsSeen <= 0 || fullSteps <= 0) return undefined;
  const secondsPerStep = elapsedS / stepsSeen;
  const seconds = secondsPerStep * fullSteps * margin;
  return { secondsPerStep, fullSteps, margin, seconds, slurm: slurmTime(seconds) };
}

export function fullStepsOf(spec: RunRecord | undefined): number | undefined {
  const params = spec?.params as Record<string, unknown> | undefined;
  if (!params) return undefined;
  for (const key of STEP_KEYS) {
    let value: unknown = params[key];
    if (value === undefined && key.includes(".")) {
      value = key.split(".").reduce<unknown>((cur, k) => (cur && typeof cur === "object" ? (cur as Record<string, unknown>)[k] : undefined), params);
    }
    const n = typeof value === "string" ? Number(value) : value;
    if (typeof n === "number" && Number.isInteger(n) && n > 0) return n;
  }
  return undefined;
}

function commandText(command: RunRecord["command"]): string | undefined {
  if (command === undefined) return undefined;
  return typeof command === "string" ? command : command.map(shellQuote).join(" ");
}

function gpus(record: RunRecord | undefined): string {
  const r = record?.resources;
  const perNode = r?.gpus_per_node ?? (typeof r?.gpus === "number" ? (r.gpus as number) : undefined);
  if (!perNode) return "none requested";
  const nodes = r?.nodes ?? 1;
  const type = typeof r?.gpu_type === "string" ? ` ${r.gpu_type}` : r?.constraint ? ` (constraint ${r.constraint})` : "";
  return `${nodes * perNode} x GPU${type} (${nodes} node${nodes > 1 ? "s" : ""} x ${perNode})`;
}

/** A log path pattern with the job's values filled in (%j, %x, %A, %a, %%). */
export function resolveLogPath(pattern: string, record: RunRecord): string {
  const job = record.job;
  return pattern.replace(/%(%|j|x|A|a|u|N)/g, (m, c: string) => {
    if (c === "%") return "%";
    if (c === "j") return job?.id ?? m;
    if (c === "x") return job?.name ?? m;
    if (c === "A") return job?.array_job_id ?? job?.id?.split("_")[0] ?? m;
    if (c === "a") return job?.array_task !== undefined ? String(job.array_task) : m;
    return m;
  });
}

export function sampleReport(view: RunView, options: SampleOptions): string {
  const record = view.record;
  const state = record?.state;
  const report = record?.report;
  const loss = report?.loss;
  const v = verdict(view);
  const full = options.full;
  const out: string[] = [`# Sample Run: ${mdText(view.name)}`, ""];
  const success = view.status === "COMPLETED" && (!state?.exit_code || state.exit_code === "0:0");
  out.push(
    `- Cluster: ${record?.job?.cluster ? mdText(record.job.cluster) : "-"}`,
    `- Job ID: ${view.jobId ? mdText(view.jobId) : "-"}`,
    `- Status: ${success ? "SUCCESS" : "FAILED"} (${view.status}${view.slurmState ? `, ${mdText(view.slurmState)}` : ""}${state?.exit_code ? `, exit ${state.exit_code}` : ""})`,
    `- Wall time: ${formatElapsed(view.elapsedS) ?? "-"}${state?.time_limit_s ? ` of ${formatElapsed(state.time_limit_s)} requested` : ""}`,
    `- GPUs: ${gpus(record)}`,
    `- Node: ${state?.node_list ? mdText(state.node_list) : "-"}`,
    "",
    "## Training",
    "",
    `- Steps completed: ${report?.steps_seen ?? "-"}`,
    `- Initial loss: ${formatNumber(loss?.first)}`,
    `- Final loss: ${formatNumber(loss?.last)}`,
    `- Minimum loss: ${formatNumber(loss?.min)}`,
    `- Loss trend: ${loss?.trend ?? "NO_DATA"}${options.plot ? ` ([loss curve](${linkTarget(options.plot)}))` : ""}`,
  );
  if (loss?.first_nonfinite) out.push(`- First non-finite loss: ${codeSpan(loss.first_nonfinite.raw)}${loss.first_nonfinite.step !== undefined ? ` at step ${loss.first_nonfinite.step}` : ""}, ${codeSpan(`${loss.first_nonfinite.file}:${loss.first_nonfinite.line}`)}`);
  out.push("", "## Resources", "");
  const rss = state?.max_rss_bytes;
  const req = state?.req_mem_bytes;
  out.push(`- Host memory (MaxRSS): ${rss !== undefined ? `${formatBytes(rss)}${req ? ` of ${formatBytes(req)} requested (${percent(rss, req)})` : ""}` : "not reported by sacct"}`);
  out.push(`- Time used: ${view.elapsedS !== undefined && state?.time_limit_s ? `${percent(view.elapsedS, state.time_limit_s)} of the time limit` : "-"}`);
  out.push(`- GPU memory used: ${metricLast(record, ["gpu_mem", "gpu_memory", "max_memory_allocated", "memory_allocated"]) ?? "not reported in the logs"}`);
  out.push(`- GPU utilization: ${metricLast(record, ["gpu_util", "gpu_utilization"]) ?? "not reported in the logs"}`);
  out.push("", "## Files", "");
  out.push(`- Job script: ${record?.script?.path ? codeSpan(record.script.path) : "-"}`);
  const files = report?.files ?? [];
  const stdout = files.find((f) => f.role === "stdout")?.path ?? (record?.logs?.stdout && record ? resolveLogPath(record.logs.stdout, record) : undefined);
  const stderr = files.find((f) => f.role === "stderr")?.path ?? (record?.logs?.stderr && record ? resolveLogPath(record.logs.stderr, record) : undefined);
  out.push(`- Stdout: ${stdout ? codeSpan(stdout) : "-"}`, `- Stderr: ${stderr ? codeSpan(stderr) : "-"}`);
  for (const f of files.filter((f) => f.role !== "stdout" && f.role !== "stderr")) out.push(`- ${mdText(f.role)}: ${codeSpan(f.path)}${f.exists ? "" : " (missing)"}`);
  out.push("", "## Verdict", "");
  out.push(v.ready ? "**READY** for a full run." : "**NOT READY** for a full run:", "");
  for (const r of v.reasons) out.push(`- ${mdText(r, 400)}`);
  for (const w of v.warnings) out.push(`- warning: ${mdText(w, 400)}`);
  if (v.reasons.length || v.warnings.length) out.push("");
  if (!v.ready && view.elapsedS !== undefined && view.elapsedS < 60 && view.status !== "COMPLETED")
    out.push("The job failed within its first minute: that is almost always an environment or path problem, not a training one. Read stderr first.", "");
  out.push("## Full Run Recommendation", "");
  const cmd = commandText(full?.command ?? record?.command);
  out.push(`- Estimated command: ${cmd ? codeSpan(cmd, { max: 2000 }) : "-"}`);
  out.push(`- Estimated GPUs: ${gpus(full ?? record)}`);
  const fullSteps = options.fullSteps ?? fullStepsOf(full);
  const ex = extrapolate(view.elapsedS, report?.steps_seen, fullSteps, options.margin);
  if (ex) {
    out.push(
      `- Estimated wall time: ${ex.slurm} (${formatNumber(ex.secondsPerStep)} s/step from the sample: ${formatElapsed(view.elapsedS)} for ${report?.steps_seen} steps; x ${ex.fullSteps} steps x ${ex.margin} margin; startup time is counted per step, so this errs long)`,
    );
  } else {
    const missing = !fullSteps ? "the full run's step count (pass --full-steps N, or give --expected with params.max_steps)" : !report?.steps_seen
          ? "steps seen in the sample's logs"
          : view.elapsedS === 0
            ? "a measurable elapsed time (the sample took 0 s by sacct)"
            : "the sample's elapsed time";
    out.push(`- Estimated wall time: cannot extrapolate without ${missing}`);
  }
  const changes = configChanges(view, full, ex);
  out.push(`- Config changes needed: ${changes.length ? changes.map((c) => mdText(c, 300)).join("; ") : "none"}`);
  out.push("");
  return `${out.join("\n")}\n`;
}

function metricLast(record: RunRecord | undefined, names: string[]): string | undefined {
  const series = record?.report?.series;
  if (!series) return undefined;
  for (const name of names) {
    const points = series[name];
    const last = points?.filter((p) => p.value !== null).at(-1);
    if (last && last.value !== null) return `${formatNumber(last.value)} (${name}, last value)`;
  }
  return undefined;
}

function configChanges(view: RunView, full: RunRecord | undefined, ex: Extrapolation | undefined): string[] {
  const changes: string[] = [];
  const time = full?.resources?.time;
  if (ex) {
    // null: UNLIMITED, nothing to raise.
    const limitS = time ? parseDuration(time) : undefined;
    if (limitS === undefined) changes.push(`set --time ${ex.slurm}`);
    else if (limitS !== null && limitS < ex.seconds) changes.push(`raise --time from ${time} to ${ex.slurm}`);
  }
  for (const f of view.failures) {
    if (!f.suggested) continue;
    const what = f.suggested.changes ? ` ${JSON.stringify(f.suggested.changes)}` : "";
    changes.push(`${f.class}: ${f.suggested.action}${what}${f.suggested.note ? ` (${f.suggested.note})` : ""}`);
  }
  const state = view.record?.state;
  if (state?.max_rss_bytes && state.req_mem_bytes && state.max_rss_bytes / state.req_mem_bytes > 0.9)
    changes.push(`more host memory: peak was ${percent(state.max_rss_bytes, state.req_mem_bytes)} of the request`);
  return changes;
}
