// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are bash code, ${...} is bash's
/**
 * Turns a job plan into the text of an sbatch script. Pure: the same plan always gives the same
 * bytes (no dates, no versions, no host names), so re-rendering an unchanged run is a no-op.
 */
import { escapeForDoubleQuotes, quoteArgv, shellQuote } from "@slurmpipe/core";
import { RESOURCE_KEYS, RESOURCE_OPTIONS } from "./directives.ts";
import { requeueLines } from "./requeue-lines.ts";
import { type JobPlan, RunError } from "./resolve.ts";

/** One array job: the shared plan of its runs plus where the table of their argv lives. */
export interface ArrayPart {
  name: string;
  id: string;
  spec: string;
  dir: string;
  tablePath: string;
  tableSha256: string;
}

export function logPatterns(dir: string, array: boolean): { stdout: string; stderr: string } {
  const base = `${escapePercent(dir)}/logs/${array ? "%A_%a" : "%j"}`;
  return { stdout: `${base}.out`, stderr: `${base}.err` };
}

/** A literal `%` in a path would be read as a filename pattern by sbatch. */
function escapePercent(path: string): string {
  return path.replace(/%/g, "%%");
}

/**
 * One `#SBATCH` line. Environment variables are not expanded in directives and a newline would end
 * the line, so both are refused; whitespace and `#` are protected by double quotes, which sbatch's
 * directive parser understands.
 */
export function directive(option: string, value: string | number | undefined, field: string): string {
  if (value === undefined) return `#SBATCH ${option}`;
  const text = String(value);
  if (/[\r\n\u0000]/.test(text)) throw new RunError(`${option} value ${JSON.stringify(text)} contains a line break: #SBATCH directives are one line`, field, "invalid_directive");
  if (text.includes("$")) throw new RunError(`${option} value ${JSON.stringify(text)} contains "$": environment variables are not expanded in #SBATCH directives`, field, "invalid_directive");
  if (text.includes("\\")) throw new RunError(`${option} value ${JSON.stringify(text)} contains a backslash, which #SBATCH directives do not handle reliably`, field, "invalid_directive");
  if (text === "") throw new RunError(`${option} has an empty value`, field, "invalid_directive");
  if (!/[\s#"']/.test(text)) return `#SBATCH ${option}=${text}`;
  if (!text.includes('"')) return `#SBATCH ${option}="${text}"`;
  if (!text.includes("'")) return `#SBATCH ${option}='${text}'`;
  throw new RunError(`${option} value ${JSON.stringify(text)} has both quote characters`, field, "invalid_directive");
}

function extraDirective(text: string, index: number): string {
  const field = `resources.extra[${index}]`;
  if (/[\r\n\u0000]/.test(text)) throw new RunError(`directive ${JSON.stringify(text)} contains a line break`, field, "invalid_directive");
  if (text.includes("$")) throw new RunError(`directive ${JSON.stringify(text)} contains "$": environment variables are not expanded in #SBATCH directives`, field, "invalid_directive");
  if (!text.startsWith("-")) throw new RunError(`directive ${JSON.stringify(text)} must start with - or -- (e.g. --exclusive)`, field, "invalid_directive");
  return `#SBATCH ${text}`;
}

function directiveLines(plan: JobPlan, jobName: string, logDir: string, array?: ArrayPart): string[] {
  const lines = [directive("--job-name", jobName, "name")];
  for (const key of RESOURCE_KEYS) {
    const value = plan.resources[key];
    if (value !== undefined) lines.push(directive(RESOURCE_OPTIONS[key], value, `resources.${key}`));
  }
  if (array) lines.push(directive("--array", array.spec, "array"));
  const logs = logPatterns(logDir, Boolean(array));
  lines.push(directive("--output", logs.stdout, "logs.stdout"), directive("--error", logs.stderr, "logs.stderr"));
  if (plan.requeue) {
    // A requeued job reopens its log files: append, so the earlier segments' logs survive.
    lines.push(directive("--signal", `B:SIGTERM@${plan.requeue.seconds}`, "requeue_on_signal"), directive("--requeue", undefined, "requeue_on_signal"), directive("--open-mode", "append", "requeue_on_signal"));
  }
  plan.extra.forEach((d, i) => {
    lines.push(extraDirective(d, i));
  });
  return lines;
}

function exportLine(v: { name: string; value: string; raw: boolean }): string {
  return `export ${v.name}=${v.raw ? v.value : shellQuote(v.value)}`;
}

/** Module loads, exports, setup and venv: the cluster-specific part, written in the profile's order. */
function environmentBlock(plan: JobPlan, venvOutside: boolean): string[] {
  const blocks: string[][] = [];
  const modules = [...plan.moduleUse.map((m) => `module use ${m}`), ...plan.modules.map((m) => `module load ${m}`)];
  if (modules.length > 0) blocks.push(modules);
  if (plan.env.length > 0) blocks.push(plan.env.map(exportLine));
  if (plan.envMultinode.length > 0) blocks.push([...(plan.envMultinodeComment ? [`# ${plan.envMultinodeComment}`] : []), ...plan.envMultinode.map(exportLine)]);
  if (plan.setup.length > 0) blocks.push(plan.setup);
  if (venvOutside && plan.venv) blocks.push([...(plan.venvComment ? [`# ${plan.venvComment}`] : []), `source ${shellQuote(plan.venv)}/bin/activate`]);
  const notes = plan.notes.map((n) => `# ${n}`);
  if (blocks.length === 0) return notes;
  return [
    ...notes,
    "# Cluster environment. Module systems and activate scripts read unset variables, so -u is off here.",
    "set +u",
    ...blocks.flatMap((b, i) => (i === 0 ? b : ["", ...b])),
    "set -u",
  ];
}

/** The launcher lines for a command given as shell text (`cmd`) run in the foreground or background. */
function launchLines(plan: JobPlan, cmd: string, background: boolean, argvFromArray: boolean): string[] {
  const amp = background ? " &" : "";
  const l = plan.launcher;
  if (l.type === "none") return [`${cmd}${amp}`];
  const srun = ["srun", ...plan.srunArgs.map((a) => shellQuote(a))];
  if (l.type === "srun") return [`${[...srun, ...(l.args ?? []).map((a) => shellQuote(a))].join(" ")} ${cmd}${amp}`];
  const head = [
    ...(l.srun ? srun : []),
    l.runtime ?? "apptainer",
    "exec",
    ...(l.args ?? []).map((a) => shellQuote(a)),
    ...plan.binds.flatMap((b) => ["--bind", shellQuote(b)]),
    shellQuote(l.container ?? ""),
    "bash",
    "-c",
    '"',
  ].join(" ");
  const inner: string[] = [];
  // Expanded in each task (escaped from the batch shell): every task has its own rank.
  if (plan.rankEnv) inner.push(`    ${escapeForDoubleQuotes('export RANK="$SLURM_PROCID" LOCAL_RANK="$SLURM_LOCALID"')}`);
  if (plan.venv) inner.push(`    ${escapeForDoubleQuotes(`source ${shellQuote(plan.venv)}/bin/activate`)}`);
  if (argvFromArray) {
    inner.push('    exec "$@"'.replace(/[$"]/g, (c) => `\\${c}`));
    return [head, ...inner, `" bash ${cmd}${amp}`];
  }
  // With a trap, the signal must reach the training program, not an intermediate bash.
  const execPrefix = background && "argv" in plan.command ? "exec " : "";
  inner.push(`    ${escapeForDoubleQuotes(execPrefix + cmd)}`);
  return [head, ...inner, `"${amp}`];
}

/** Runs the command; with requeue-on-signal in the background, forwarding the warning signal to it (requeue-lines.ts). */
function commandLines(plan: JobPlan, cmd: string, argvFromArray: boolean, logDir: string): string[] {
  if (!plan.requeue) return launchLines(plan, cmd, false, argvFromArray);
  return requeueLines(plan, plan.requeue, launchLines(plan, cmd, true, argvFromArray), logDir);
}

function header(directives: string[], comment: string): string[] {
  return ["#!/bin/bash", ...directives, comment, "", "set -euo pipefail"];
}

/**
 * `torchrun ... SCRIPT ARGS` for `python SCRIPT ARGS`: the Slurm variables are expanded where the
 * command runs (inside the container too: Apptainer passes the environment).
 */
function torchrunCommand(plan: JobPlan, argv: string[] | undefined): string {
  const t = plan.torchrun!;
  // In an array task the argv comes from the table: every member is `python SCRIPT ...` (the array key holds the torchrun decision).
  const rest = argv ? quoteArgv(argv.slice(1)) : '"${sp_args[@]:1}"';
  return [
    "torchrun",
    '--nnodes="$SLURM_NNODES"',
    `--nproc_per_node=${t.nprocPerNode}`,
    '--rdzv_id="$SLURM_JOB_ID"',
    "--rdzv_backend=c10d",
    `--rdzv_endpoint="$SLURMPIPE_HEAD_NODE:${t.port}"`,
    rest,
  ].join(" ");
}

/** The rendezvous host of a torchrun launch or of one task per GPU: the first node's host name. */
function torchrunSetup(plan: JobPlan): string[] {
  if (!plan.torchrun && !plan.rankEnv) return [];
  // sed reads all of scontrol's output: `head -n 1` could end scontrol with SIGPIPE, fatal under pipefail.
  const head = 'SLURMPIPE_HEAD_NODE=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | sed -n 1p)';
  if (plan.torchrun) return ["# torchrun rendezvous on the first node of the job", head, "export SLURMPIPE_HEAD_NODE", ""];
  return [
    "# One task per GPU: PyTorch's rendezvous on the first node; RANK and LOCAL_RANK are set in each task",
    head,
    "export SLURMPIPE_HEAD_NODE MASTER_ADDR=$SLURMPIPE_HEAD_NODE",
    // A port per job: two jobs sharing a node (small-g) must not collide.
    "export MASTER_PORT=$((20000 + ${SLURM_JOB_ID:-0} % 40000))",
    'export WORLD_SIZE="${SLURM_NTASKS:-1}" LOCAL_WORLD_SIZE="${SLURM_NTASKS_PER_NODE:-1}"',
    "",
  ];
}

export function renderRunScript(plan: JobPlan, profileName: string): string {
  const cmd = "argv" in plan.command ? (plan.torchrun ? torchrunCommand(plan, plan.command.argv) : quoteArgv(plan.command.argv)) : plan.command.shell;
  const logDir = `${plan.scriptDir}/logs`;
  const lines = [
    ...header(directiveLines(plan, plan.jobName, plan.scriptDir), `# slurmpipe run ${oneLine(plan.run.id)} (${plan.run.name}), profile ${oneLine(profileName)}`),
    `export SLURMPIPE_RUN_ID=${shellQuote(plan.run.id)}`,
    `export SLURMPIPE_RUN_NAME=${shellQuote(plan.run.name)}`,
    // sbatch opens the log files before this runs (slurm-render creates the directory); kept for a copied script.
    `mkdir -p ${[...new Set([logDir, plan.runDir])].map((d) => shellQuote(d)).join(" ")}`,
    `cd ${shellQuote(plan.runDir)}`,
    "",
    ...section(environmentBlock(plan, plan.launcher.type !== "apptainer")),
    ...torchrunSetup(plan),
    ...commandLines(plan, cmd, false, logDir),
  ];
  return `${lines.join("\n")}\n`;
}

/**
 * One script for many runs: task i reads line i+1 of the table beside it. Every field is base64
 * (prefixed with ':' so an empty value stays a field), so the shell never parses a value; the
 * table's sha256 is checked first, so a table replaced after submission cannot run the wrong argv.
 */
export function renderArrayScript(plan: JobPlan, part: ArrayPart, profileName: string, members: number): string {
  const lines = [
    ...header(directiveLines(plan, part.name, part.dir, part), `# slurmpipe array ${part.id} (${members} runs), profile ${oneLine(profileName)}`),
    `sp_table=${shellQuote(part.tablePath)}`,
    `[ "$(sha256sum < "$sp_table" | cut -d ' ' -f 1)" = ${part.tableSha256} ] || { echo "slurmpipe: $sp_table changed since rendering; re-render and resubmit" >&2; exit 1; }`,
    'mapfile -t -s "$SLURM_ARRAY_TASK_ID" -n 1 sp_line < "$sp_table"',
    '[ "${#sp_line[@]}" -eq 1 ] || { echo "slurmpipe: no line for task $SLURM_ARRAY_TASK_ID in $sp_table" >&2; exit 1; }',
    'read -r -a sp_fields <<< "${sp_line[0]}"',
    "sp_args=()",
    'for sp_field in "${sp_fields[@]}"; do',
    "  # printf x keeps trailing newlines, which $(...) would strip",
    '  sp_value=$(printf %s "${sp_field#:}" | base64 -d; printf x)',
    '  sp_args+=("${sp_value%x}")',
    "done",
    '[ "${#sp_args[@]}" -ge 4 ] || { echo "slurmpipe: malformed line for task $SLURM_ARRAY_TASK_ID in $sp_table" >&2; exit 1; }',
    'export SLURMPIPE_RUN_ID="${sp_args[0]}" SLURMPIPE_RUN_NAME="${sp_args[1]}"',
    'sp_dir="${sp_args[2]}"',
    'sp_args=("${sp_args[@]:3}")',
    `mkdir -p ${shellQuote(`${part.dir}/logs`)} "$sp_dir"`,
    'cd "$sp_dir"',
    "",
    ...section(environmentBlock(plan, plan.launcher.type !== "apptainer")),
    ...torchrunSetup(plan),
    ...commandLines(plan, plan.torchrun ? torchrunCommand(plan, undefined) : '"${sp_args[@]}"', true, `${part.dir}/logs`),
  ];
  return `${lines.join("\n")}\n`;
}

/** One table line: run id, name, dir, then the argv words. */
export function tableLine(fields: string[]): string {
  return fields.map((f) => `:${Buffer.from(f, "utf8").toString("base64")}`).join(" ");
}

function section(lines: string[]): string[] {
  return lines.length > 0 ? [...lines, ""] : [];
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, " ");
}
