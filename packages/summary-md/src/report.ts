import { type Failure, describeParamChanges } from "@slurmpipe/core";
import { compareConfigurations } from "./compare.ts";
import { codeSpan, formatBytes, formatElapsed, formatNumber, formatTime, linkTarget, mdCell, mdText, percent } from "./format.ts";
import type { PlotSet } from "./plots.ts";
import { type RerunGroup, rerunMarkdown } from "./rerun.ts";
import { finalText } from "./svg/compare.ts";
import { ACTIVE_STATUSES, STATUSES, type Status, isFailed, isFinished } from "./status.ts";
import { type Grouped, type RunView, describeBlockers } from "./view.ts";

export interface ReportInput {
  title: string;
  generatedAt: string;
  groups: Grouped[];
  plots?: PlotSet;
  reruns: RerunGroup[];
  rerunSource?: string;
  profile?: string;
  expectedCount?: number;
}

const EMPTY = "-";

/** The sweep status report: counts, a table per group, failures with evidence, efficiency, reruns. */
export function statusReport(input: ReportInput): string {
  return [...statusReportChunks(input)].join("");
}

/**
 * The same report in chunks of about `size` characters, for writing out as it is made: at
 * 100,000 runs the report is ~7 MB, and its lines and the joined string were ~50 MB of peak memory.
 */
export function* statusReportChunks(input: ReportInput, size = 1 << 16): Generator<string> {
  let chunk = "";
  // Blank lines are held back until more text follows: the report ends with its last text line.
  let blanks = 0;
  for (const line of reportLines(input)) {
    if (line === "") {
      blanks += 1;
      continue;
    }
    chunk += `${"\n".repeat(blanks)}${line}\n`;
    blanks = 0;
    if (chunk.length >= size) {
      yield chunk;
      chunk = "";
    }
  }
  if (chunk) yield chunk;
}

function* reportLines(input: ReportInput): Generator<string> {
  const views = input.groups.flatMap((g) => g.runs);
  yield `# ${mdText(input.title)}`;
  yield "";
  yield `Generated ${formatTime(input.generatedAt)} UTC · ${views.length} runs${input.expectedCount !== undefined ? ` (${input.expectedCount} expected)` : ""} · all times UTC`;
  yield "";
  yield* summary(views);
  yield* runTables(input.groups, input.plots);
  yield* completeness(views, input.expectedCount);
  yield* blockedRuns(views);
  yield* failures(views);
  yield* efficiency(views);
  yield* rerunMarkdown(input.reruns, { ...(input.rerunSource ? { source: input.rerunSource } : {}), ...(input.profile ? { profile: input.profile } : {}) });
}

export function countByStatus(views: readonly RunView[]): Map<Status, number> {
  const counts = new Map<Status, number>();
  for (const v of views) counts.set(v.status, (counts.get(v.status) ?? 0) + 1);
  return counts;
}

function summary(views: readonly RunView[]): string[] {
  const counts = countByStatus(views);
  const total = views.length;
  const completed = counts.get("COMPLETED") ?? 0;
  const finished = views.filter((v) => isFinished(v.status)).length;
  const failed = views.filter((v) => isFailed(v.status)).length;
  const active = views.filter((v) => ACTIVE_STATUSES.has(v.status)).length;
  const out = ["## Summary", ""];
  const parts = [`**${completed} of ${total} completed (${percent(completed, total)})**`, `${finished} finished (${percent(finished, total)})`, `${failed} failed`, `${active} pending or running`];
  const blocked = views.filter((v) => v.status === "BLOCKED");
  if (blocked.length) parts.push(blockedHeadline(blocked));
  const unknown = counts.get("UNKNOWN") ?? 0;
  if (unknown) parts.push(`${unknown} unknown (not counted as failed)`);
  const notStarted = (counts.get("MISSING") ?? 0) + (counts.get("NOT_SUBMITTED") ?? 0);
  if (notStarted) parts.push(`${notStarted} not submitted`);
  out.push(parts.join(" · "), "");
  out.push("| Status | Runs | Share |", "|---|---:|---:|");
  for (const s of STATUSES) {
    const n = counts.get(s);
    if (n) out.push(`| ${s} | ${n} | ${percent(n, total)} |`);
  }
  out.push(`| **total** | **${total}** | |`, "");
  return out;
}

/** "1 BLOCKED by 1234 (FAILED)"; "3 BLOCKED by 1234 (FAILED), 1240 (TIMEOUT)": blocked runs wait for good, so they are named apart from pending ones. */
function blockedHeadline(blocked: readonly RunView[]): string {
  const upstream = new Set(blocked.map((v) => describeBlockers(v)));
  return `${blocked.length} BLOCKED by ${mdText([...upstream].join(", "), 300)}`;
}

/**
 * The completeness check: every expected run accounted for, and which runs ran with parameters
 * other than the sweep's (a suggested fix applied to a retry: the run's name still says the old value).
 */
function* completeness(views: readonly RunView[], expectedCount: number | undefined): Generator<string> {
  const changed = views.filter((v) => v.paramChanges.length > 0);
  if (expectedCount === undefined && changed.length === 0) return;
  yield "## Completeness";
  yield "";
  if (expectedCount !== undefined) {
    const missing = views.filter((v) => v.status === "MISSING" || v.status === "NOT_SUBMITTED" || v.status === "SUBMIT_ERROR");
    const completed = views.filter((v) => v.status === "COMPLETED").length;
    yield `- ${expectedCount} runs expected, ${completed} completed${missing.length ? `, ${missing.length} never submitted: ${missing.map((v) => `${mdText(v.name)} (${v.status})`).join(", ")}` : ", every one submitted"}`;
  }
  if (changed.length > 0) {
    yield `- Ran with parameters other than the sweep's (${changed.length}):`;
    for (const v of changed) {
      const attempt = v.record?.job?.attempt && v.record.job.attempt > 1 ? `attempt ${v.record.job.attempt}, ` : "";
      yield `  - ${mdText(v.name)} (${attempt}${v.status}): ${mdText(describeParamChanges(v.paramChanges), 300)}`;
    }
  }
  yield "";
}

/** Blocked runs never start as they are: their upstream must be rerun, then they are cancelled and resubmitted. */
function* blockedRuns(views: readonly RunView[]): Generator<string> {
  const blocked = views.filter((v) => v.status === "BLOCKED");
  if (blocked.length === 0) return;
  yield "## Blocked";
  yield "";
  yield "These jobs wait on a dependency that can never be satisfied (Slurm: PENDING, reason DependencyNeverSatisfied): they will not start unless the dependency changes.";
  yield "";
  for (const v of blocked) {
    const ups = (v.blockedBy ?? []).map((b) => `${mdText(b.jobId)}${b.name ? ` (${mdText(b.name)}, ${b.status})` : b.status ? ` (${b.status})` : ""}`);
    yield `- ${mdText(v.name)} (job ${v.jobId ? mdText(v.jobId) : "?"}): blocked by ${ups.length ? ups.join(", ") : "a failed dependency"}`;
  }
  const ids = blocked.map((v) => v.jobId).filter((id): id is string => id !== undefined);
  yield "";
  if (ids.length) yield `Rerun the upstream runs (see Rerun), then cancel the blocked jobs (${codeSpan(`scancel ${ids.join(" ")}`)}) and resubmit them with ${codeSpan("slurm-submit --resubmit failed")}.`;
  yield "";
}

/** The final loss per configuration (seeds folded: mean ± std), best first marked; nothing without seeds to fold. */
function* configurationTable(runs: readonly RunView[]): Generator<string> {
  const comparison = compareConfigurations(runs);
  if (!comparison) return;
  yield "| Configuration | Seeds | Final loss (mean ± std) | Min | Max | Best |";
  yield "|---|---|---|---|---|---|";
  for (const c of comparison.configurations) {
    const mark = c.best ? "**best**" : (c.why ?? EMPTY);
    const cell = c.best ? `**${finalText(c)}**` : finalText(c);
    const n = c.final && c.final.n < c.seeds.length ? `${c.seeds.length} (${c.final.n} with a final loss)` : String(c.seeds.length);
    yield `| ${mdCell(c.label, 160)} | ${n} | ${cell} | ${c.final ? formatNumber(c.final.min) : EMPTY} | ${c.final ? formatNumber(c.final.max) : EMPTY} | ${mark} |`;
  }
  yield "";
}

function* runTables(groups: readonly Grouped[], plots: PlotSet | undefined): Generator<string> {
  yield "## Runs";
  yield "";
  for (const group of groups) {
    const done = group.runs.filter((r) => r.status === "COMPLETED").length;
    const pct = percent(done, group.runs.length);
    if (groups.length > 1 || group.name !== "") {
      yield `### ${group.name ? mdText(group.name) : "Ungrouped"}: ${done}/${group.runs.length} completed (${pct})`;
    } else {
      yield `${done}/${group.runs.length} completed (${pct})`;
    }
    yield "";
    const links = plots?.groups.get(group.name);
    if (links) {
      yield `![Loss curves${group.name ? `, ${mdText(group.name)}` : ""}](${linkTarget(links.overview)})`;
      yield "";
      if (links.colorBy) {
        yield `[Loss curves coloured by parameter](${linkTarget(links.colorBy)})`;
        yield "";
      }
      if (links.compare) {
        yield `![Loss by configuration${group.name ? `, ${mdText(group.name)}` : ""}](${linkTarget(links.compare)})`;
        yield "";
      }
    }
    yield* configurationTable(group.runs);
    yield "| Run | Status | Job ID | Started | Completed | Elapsed | Loss trend | Notes |";
    yield "|---|---|---|---|---|---|---|---|";
    for (const r of group.runs) {
      const plot = plots?.runs.get(r.id);
      const trend = r.trend ?? EMPTY;
      const trendCell = plot ? `[${trend}](${linkTarget(plot)})` : trend;
      yield `| ${mdCell(r.name, 120)} | ${r.status} | ${r.jobId ? mdCell(r.jobId) : EMPTY} | ${formatTime(r.started) ?? EMPTY} | ${formatTime(r.ended) ?? EMPTY} | ${formatElapsed(r.elapsedS) ?? EMPTY} | ${trendCell} | ${r.notes.length ? mdCell(r.notes.join("; "), 240) : EMPTY} |`;
    }
    yield "";
  }
}

function* failures(views: readonly RunView[]): Generator<string> {
  const broken = views.filter((v) => isFailed(v.status) || v.failures.length > 0 || v.status === "UNKNOWN" || v.record?.error !== undefined);
  if (broken.length === 0) return;
  yield "## Failures";
  yield "";
  for (const v of broken) yield* failureOf(v);
}

function failureOf(v: RunView): string[] {
  const out = [`### ${mdText(v.name)}: ${v.status}${v.jobId ? ` (job ${mdText(v.jobId)})` : ""}`, ""];
  if (v.status === "UNKNOWN")
    out.push(
      `- Neither squeue nor sacct reported this job${v.slurmState ? ` (${mdText(v.slurmState)})` : ""}; it is not counted as failed. Check with ${codeSpan(`sacct -j ${v.jobId ?? "<id>"} -X -o JobID,State,ExitCode,Elapsed`)}.`,
    );
  const error = v.record?.error;
  if (error) out.push(`- **${mdText(error.stage)} error**${error.code ? ` (${codeSpan(error.code)})` : ""}: ${mdText(error.message, 500)}`);
  for (const f of v.failures) out.push(...failureLines(f));
  const early = v.record?.state?.early_failure;
  // The stderr tail only when log-parse has not explained the failure with its own evidence.
  if (early && v.failures.length === 0) {
    out.push(
      `- **Failed early**${early.elapsed_s !== undefined ? ` (after ${early.elapsed_s} s)` : ""}: almost always an environment or path problem, not a training one.${early.error ? ` ${mdText(early.error, 300)}` : ""}`,
    );
    const tail = (early.tail ?? []).slice(-5);
    if (tail.length) out.push(`  - last lines of ${early.path ? codeSpan(early.path) : "stderr"}:`);
    for (const line of tail) out.push(`    - ${codeSpan(line)}`);
  }
  if (isFailed(v.status) && v.failures.length === 0 && !error) {
    const exit = v.record?.state?.exit_code;
    out.push(`- No log report explains it${exit ? ` (exit code ${codeSpan(exit)})` : ""}: run \`log-parse\` on this record, or read the job's stderr.`);
  }
  out.push("");
  return out;
}

function failureLines(f: Failure): string[] {
  const out = [`- **${f.class}**: ${mdText(f.message, 500)}`];
  for (const e of f.evidence ?? []) out.push(`  - ${codeSpan(`${e.file}:${e.line}`)} ${codeSpan(e.text)}`);
  if (f.suggested) {
    const changes = f.suggested.changes ? ` ${codeSpan(JSON.stringify(f.suggested.changes))}` : "";
    const note = f.suggested.note ? `: ${mdText(f.suggested.note, 300)}` : "";
    out.push(`  - suggested: ${f.suggested.action}${changes}${f.suggested.retry ? "" : " (do not retry unchanged)"}${note}`);
  }
  return out;
}

/** MaxRSS vs requested memory and elapsed vs time limit, where sacct reported them. */
function* efficiency(views: readonly RunView[]): Generator<string> {
  const rows = views.filter((v) => {
    const s = v.record?.state;
    return s && (s.max_rss_bytes !== undefined || (s.time_limit_s !== undefined && v.elapsedS !== undefined));
  });
  if (rows.length === 0) return;
  yield* ["## Efficiency", "", "| Run | Status | MaxRSS | Requested | Memory used | Elapsed | Time limit | Time used |", "|---|---|---:|---:|---:|---:|---:|---:|"];
  const lowMem: string[] = [];
  const nearTime: string[] = [];
  for (const v of rows) {
    const s = v.record!.state!;
    const rss = s.max_rss_bytes;
    const req = s.req_mem_bytes;
    const limit = s.time_limit_s;
    const memPct = rss !== undefined && req ? rss / req : undefined;
    const timePct = v.elapsedS !== undefined && limit ? v.elapsedS / limit : undefined;
    if (memPct !== undefined && memPct < 0.25 && v.status === "COMPLETED") lowMem.push(v.name);
    if (timePct !== undefined && timePct >= 0.9 && v.status === "COMPLETED") nearTime.push(v.name);
    yield `| ${mdCell(v.name, 120)} | ${v.status} | ${formatBytes(rss) ?? EMPTY} | ${formatBytes(req) ?? EMPTY} | ${memPct !== undefined ? percent(rss!, req!) : EMPTY} | ${formatElapsed(v.elapsedS) ?? EMPTY} | ${limit ? formatElapsed(limit) : EMPTY} | ${timePct !== undefined ? percent(v.elapsedS!, limit!) : EMPTY} |`;
  }
  yield "";
  if (lowMem.length) yield `- Used under 25% of the requested memory (could ask for less): ${lowMem.map((n) => mdText(n)).join(", ")}`;
  if (nearTime.length) yield `- Finished within 10% of the time limit (raise it for similar runs): ${nearTime.map((n) => mdText(n)).join(", ")}`;
  if (lowMem.length || nearTime.length) yield "";
}
