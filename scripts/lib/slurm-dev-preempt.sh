# shellcheck shell=bash
# Sourced by scripts/slurm-dev-nodes.sh: `up --preempt` adds real preemption to an instance.
#
#   PreemptType=preempt/partition_prio, PreemptMode=REQUEUE
#   partition `low`  (PriorityTier=1, GraceTime=$PREEMPT_GRACE s): its jobs are preempted and requeued
#   partition `high` (PriorityTier=10, PreemptMode=OFF): its jobs preempt `low` (and debug/long) jobs
#   SlurmctldParameters=preempt_send_user_signal: a preempted job that asked for --signal gets that
#     signal (with B:, to its batch shell: the trap slurm-render writes for --requeue-on-signal) at
#     the start of its GraceTime; without it Slurm sends SIGTERM to the job's steps only. Both
#     22.05.8 and 24.11.5 spell it so (their slurmctld's strings); 22.05 refuses a PreemptParameters
#     line altogether ("unrecognized key", docs/slurm-versions.md).
#
# The choice is kept in <state>/etc/preempt (like the node count): a later `up` keeps it, `up
# --no-preempt` drops it. Off by default, so the shared cluster and every other test keep the
# configuration they were written against (no preemption between debug and long either way:
# they have the same PriorityTier).

PREEMPT_FILE=$ETC/preempt
PREEMPT_ARG=""
PREEMPT_GRACE=${SLURM_DEV_PREEMPT_GRACE:-30}

preempt_on() {
  case $PREEMPT_ARG in
    on) return 0 ;;
    off) return 1 ;;
  esac
  [ -e "$PREEMPT_FILE" ]
}

# preempt_edit_conf FILE: called by nodes_edit_conf on the new slurm.conf before it is installed
preempt_edit_conf() {
  local f=$1 nodes
  [[ $PREEMPT_GRACE =~ ^[0-9]+$ ]] ||
    { printf '%s: error: SLURM_DEV_PREEMPT_GRACE must be seconds, not %q\n' "$PROG" "$PREEMPT_GRACE" >&2; exit 2; }
  if ! preempt_on; then
    rm -f "$PREEMPT_FILE"
    return 0
  fi
  echo "grace=$PREEMPT_GRACE" >"$PREEMPT_FILE"
  nodes=$(sed -n 's/^PartitionName=debug Nodes=\([^ ]*\).*/\1/p' "$f")
  cat >>"$f" <<CONF
# up --preempt (scripts/lib/slurm-dev-preempt.sh): a job in high preempts and requeues one in low
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
SlurmctldParameters=preempt_send_user_signal
PartitionName=low Nodes=$nodes MaxTime=INFINITE State=UP PriorityTier=1 GraceTime=$PREEMPT_GRACE PreemptMode=REQUEUE
PartitionName=high Nodes=$nodes MaxTime=INFINITE State=UP PriorityTier=10 PreemptMode=OFF
CONF
}
