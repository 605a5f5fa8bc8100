// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are bash code, ${...} is bash's
/**
 * The lines of a --requeue-on-signal script around its command (script.ts writes the rest): the
 * trap that forwards Slurm's warning signal to the training process, the wait for its checkpoint,
 * the requeue at the time limit, the wait for Slurm's own requeue after a preemption, and the
 * guard that keeps a finished job from training again when Slurm requeues it once more.
 */
import { parseDuration, shellQuote } from "@slurmpipe/core";
import type { JobPlan } from "./resolve.ts";

/**
 * The trap that passes the warning on. Slurm's srun turns a SIGTERM it receives into a SIGKILL of its
 * tasks ("srun: forcing job termination"), so under srun the signal goes to the job's steps through
 * `scancel --signal` (not to the batch shell, which has it already); the local backend's srun forwards it.
 */
function forwardLines(plan: JobPlan): string[] {
  const direct = 'kill -TERM "$sp_child" 2>/dev/null || true';
  const l = plan.launcher;
  if (l.type === "none" || (l.type !== "srun" && !l.srun)) {
    return [`sp_forward_term() { sp_term=1; sp_interrupted=1; if [ -n "$sp_child" ]; then ${direct}; fi; }`];
  }
  return [
    'sp_forward_term() { sp_term=1; sp_interrupted=1; [ -n "$sp_child" ] || return 0',
    '  if [ -n "${SLURM_JOB_ID:-}" ] && [ "$(command -v srun)" != "${SLURMPIPE_LOCAL_DIR:-/nonexistent}/bin/srun" ]; then',
    `    scancel --signal=TERM "$SLURM_JOB_ID" 2>/dev/null || ${direct}`,
    `  else ${direct}; fi; }`,
  ];
}

/** The command's lines under --requeue-on-signal: `launch` (its launcher lines, backgrounded) with the trap, the wait and the requeue. */
export function requeueLines(plan: JobPlan, requeue: NonNullable<JobPlan["requeue"]>, launch: string[], logDir: string): string[] {
  const limit = plan.resources.time === undefined ? undefined : parseDuration(String(plan.resources.time));
  const lines = [
    "# Slurm 24.11.5 requeued a job once more after a preemption although its next segment had run to",
    "# its end (docs/slurm-versions.md): a segment of a job whose command already ended well ends at once.",
    `sp_done=${shellQuote(logDir)}/.slurmpipe-completed-"\${SLURM_JOB_ID:-}"`,
    'if [ -n "${SLURM_JOB_ID:-}" ] && [ -e "$sp_done" ]; then',
    '  echo "slurmpipe: job $SLURM_JOB_ID already ran to its end in an earlier segment; Slurm requeued it once more: not run again" >&2',
    "  exit 0",
    "fi",
    `# --signal=B:SIGTERM@${requeue.seconds} reaches only this shell: forward it to the training process so it`,
    "# can checkpoint at a safe point, and wait until it has finished (a trap runs only between commands,",
    "# hence the command in the background and `wait`).",
    "sp_child=",
    "sp_term=",
    "sp_interrupted=",
    ...forwardLines(plan),
    "trap sp_forward_term TERM",
    ...launch,
    "sp_child=$!",
    "while :; do",
    "  sp_interrupted=",
    "  sp_rc=0",
    '  wait "$sp_child" || sp_rc=$?',
    "  # wait returns early when the trap ran; the training process may still be writing its checkpoint.",
    '  [ -n "$sp_interrupted" ] || break',
    "done",
  ];
  if (requeue.selfRequeue) {
    // A preempted job (PreemptMode=REQUEUE with GraceTime) that ends within its grace time is not
    // requeued by 22.05.8 (it ends COMPLETED or FAILED); an `scontrol requeue` of its own instead was
    // requeued once more by 24.11.5 at the end of the next segment. Slurm requeues it at the end of
    // the grace time: wait for that, the checkpoint written. Only a preemption during this segment
    // (not before its StartTime) counts.
    lines.push(
      'sp_show=$(scontrol show job "${SLURM_JOB_ID:-none}" 2>/dev/null || true)',
      "sp_preempted=$(sed -n 's/.*PreemptTime=\\([0-9][^ ]*\\).*/\\1/p' <<<\"$sp_show\")",
      "sp_started=$(sed -n 's/.* StartTime=\\([0-9][^ ]*\\).*/\\1/p' <<<\"$sp_show\")",
      'if [ -n "$sp_preempted" ] && [[ ! "$sp_preempted" < "$sp_started" ]]; then',
      '  echo "slurmpipe: job $SLURM_JOB_ID was preempted at $sp_preempted; waiting for Slurm to requeue it at the end of its grace time" >&2',
      "  trap '' TERM",
      "  for ((sp_i = 0; sp_i < 3600; sp_i++)); do sleep 1; done",
      "fi",
    );
  }
  if (requeue.selfRequeue && typeof limit === "number") {
    // --requeue alone does not requeue at the time limit; do it ourselves, but only when the signal was
    // the time-limit warning (Slurm may send it up to 60 s early), not an scancel earlier in the run.
    const earliest = Math.max(0, limit - requeue.seconds - 90);
    lines.push(
      `if [ -n "$sp_term" ] && [ "$SECONDS" -ge ${earliest} ] && [ -n "\${SLURM_JOB_ID:-}" ]; then`,
      '  echo "slurmpipe: time-limit warning received; requeueing job $SLURM_JOB_ID to resume from its checkpoint" >&2',
      '  scontrol requeue "$SLURM_JOB_ID" || echo "slurmpipe: scontrol requeue failed" >&2',
      "fi",
    );
  }
  // Ended well, not on the warning signal (then it only checkpointed): a later requeue has nothing to do.
  lines.push('if [ "$sp_rc" -eq 0 ] && [ -z "$sp_term" ] && [ -n "${SLURM_JOB_ID:-}" ]; then : >"$sp_done" 2>/dev/null || true; fi', 'exit "$sp_rc"');
  return lines;
}

