# shellcheck shell=bash
# Sourced by scripts/slurm-dev. SLURM_DEV_SITE=lumi|olivia: a slurmctld shaped like the site's
# GPU partitions, beside the dev cluster, so `sbatch --test-only` (and held submissions) are judged
# by a real controller against the site's partition limits and node shapes.
#
# It is a controller only: the nodes are declared State=CLOUD (powered down, "resumed" by /bin/true),
# so Slurm schedules against their declared shape without a slurmd for each. No job ever runs
# there; run jobs on the dev cluster itself. No accounting either, so what sites set through a QoS
# or an association (LUMI's 210 submitted jobs per user, Olivia's devel QoS and its 32-GPU cap per
# job) is not expressed here: slurm-render enforces those from the profile, and slurm-submit's
# default --max-in-flight keeps under the submit limit.
#
# Values are the ones a job can be allocated, from ../shared/reference/sites.md (fact ids in the
# comments) and the same pages the profiles cite; they are written here independently of
# packages/slurm-render/profiles/*.yaml, so the site tests compare two readings of the sources.

SITES=(lumi olivia)

# site_partitions SITE: the node and partition lines of the site's slurm.conf
site_partitions() {
  case $1 in
    lumi)
      cat <<'CONF'
# LUMI-G (L5): 8 GCDs per node, 64 cores of which 56 are available to jobs (L3: the first core of
# each CCD is reserved), 512 GiB of which 480G is requestable (L12: full-node --mem=480G).
NodeName=nid[005000-005015] CPUs=56 Boards=1 SocketsPerBoard=8 CoresPerSocket=7 ThreadsPerCore=1 RealMemory=491520 Gres=gpu:8 State=CLOUD
# Partitions (L1): small-g up to 4 nodes and 3 days, standard-g up to 1024 nodes and 2 days
# (whole nodes), dev-g up to 32 nodes and 3 hours.
PartitionName=small-g Nodes=nid[005000-005015] MaxNodes=4 MaxTime=3-00:00:00 Default=YES State=UP
PartitionName=standard-g Nodes=nid[005000-005015] MaxNodes=1024 MaxTime=2-00:00:00 OverSubscribe=EXCLUSIVE State=UP
PartitionName=dev-g Nodes=nid[005000-005015] MaxNodes=32 MaxTime=03:00:00 State=UP
CONF
      ;;
    olivia)
      cat <<'CONF'
# Olivia accel (O1): 4 GH200 per node, 288 ARM64 CPUs, 808 GiB; at most 7 days. (The 112-node
# partition is declared with 16 nodes: enough for every multi-node request the tests make.)
NodeName=gpu-1-[1-16] CPUs=288 Boards=1 SocketsPerBoard=4 CoresPerSocket=72 ThreadsPerCore=1 RealMemory=827392 Gres=gpu:4 State=CLOUD
PartitionName=accel Nodes=gpu-1-[1-16] MaxTime=7-00:00:00 Default=YES State=UP
CONF
      ;;
  esac
}

# site_max_array SITE: MaxArraySize (the largest index + 1)
site_max_array() {
  case $1 in
    lumi) echo 1001 ;;    # not documented (sites.md: unverifiable); Slurm's default
    olivia) echo 1000 ;;  # O8: at most 1,000 array tasks, indices 0-999
  esac
}

site_port() { case $1 in lumi) echo 6827 ;; olivia) echo 6837 ;; esac; }

site_setup() {
  SITE=$SLURM_DEV_SITE
  local s ok=""
  for s in "${SITES[@]}"; do [ "$s" = "$SITE" ] && ok=1; done
  [ -n "$ok" ] || { msg "SLURM_DEV_SITE must be one of: ${SITES[*]} (got '$SITE')"; exit 2; }
  SITE_DIR=$STATE/site-$SITE
  SITE_CONF=$SITE_DIR/etc/slurm.conf
  SITE_PID=$SITE_DIR/run/slurmctld.pid
  export SLURM_CONF=$SITE_CONF
}

site_write_config() {
  mkdir -p "$SITE_DIR/etc" "$SITE_DIR/spool" "$SITE_DIR/log" "$SITE_DIR/run"
  chmod 700 "$SITE_DIR/spool"
  local port
  port=$(site_port "$SITE")
  {
    cat <<CONF
# Written by scripts/slurm-dev (SLURM_DEV_SITE=$SITE): a controller shaped like $SITE's GPU
# partitions, for sbatch --test-only. Edit scripts/lib/slurm-dev-sites.sh, not this file.
ClusterName=site-$SITE
SlurmctldHost=localhost
SlurmUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
StateSaveLocation=$SITE_DIR/spool
SlurmdSpoolDir=$SITE_DIR/spool/slurmd
SlurmctldPidFile=$SITE_PID
SlurmctldLogFile=$SITE_DIR/log/slurmctld.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
# A request beyond any partition limit is refused at submission, as the sites do.
EnforcePartLimits=ALL
MaxArraySize=$(site_max_array "$SITE")
# Power saving stands in for the nodes: CLOUD nodes are scheduled as if they could be resumed.
SuspendProgram=/bin/true
ResumeProgram=/bin/true
SuspendTime=600
ResumeTimeout=600
CONF
    site_partitions "$SITE"
  } >"$SITE_CONF.new"
  # Slurm looks for gres.conf beside slurm.conf; CLOUD nodes take the count from the node line.
  printf '# Written by scripts/slurm-dev.\n' >"$SITE_DIR/etc/gres.conf"
  if [ -f "$SITE_CONF" ] && cmp -s "$SITE_CONF.new" "$SITE_CONF"; then rm -f "$SITE_CONF.new"; return 1; fi
  mv -f "$SITE_CONF.new" "$SITE_CONF"
  return 0
}

site_running() {
  local pid
  pid=$(cat "$SITE_PID" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = slurmctld ]
}

site_answers() { timeout 10 scontrol ping 2>/dev/null | grep -q 'is UP'; }

site_stop() {
  site_running || return 0
  local pid i
  pid=$(cat "$SITE_PID")
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

site_up() {
  ensure_packages
  start_munge
  if site_write_config && site_running; then
    msg "site $SITE: slurm.conf changed; restarting its slurmctld"
    site_stop
  fi
  if ! site_running; then
    msg "site $SITE: starting slurmctld (127.0.0.1:$(site_port "$SITE"))"
    # -i: a fresh start ignores saved state; the controller keeps no jobs worth keeping.
    slurmctld -f "$SITE_CONF" -i || die "site $SITE: slurmctld did not start (see $SITE_DIR/log/slurmctld.log)"
  fi
  local i
  for ((i = 0; i < TIMEOUT * 2; i++)); do
    if site_answers; then
      site_status
      echo "export SLURM_CONF=$SITE_CONF"
      return 0
    fi
    sleep 0.5
  done
  tail -n 20 "$SITE_DIR/log/slurmctld.log" >&2 || true
  die "site $SITE: slurmctld does not answer after ${TIMEOUT}s"
}

site_status() {
  if site_running && site_answers; then
    echo "site $SITE: slurmctld answers (SLURM_CONF=$SITE_CONF)"
    timeout 10 scontrol show partition -o 2>/dev/null | sed -E 's/^PartitionName=([^ ]+).* MaxNodes=([^ ]+) MaxTime=([^ ]+).*/  \1: MaxNodes=\2 MaxTime=\3/'
    return 0
  fi
  echo "site $SITE: not running (run 'SLURM_DEV_SITE=$SITE $SELF up')"
  return 1
}

# site_main CMD: up, down and status act on the site's controller only
site_main() {
  site_setup
  case $1 in
    status) if site_status; then exit 0; else exit 1; fi ;;
  esac
  need_root "$1"
  mkdir -p "$SITE_DIR/run"
  exec 8>"$SITE_DIR/run/lock"
  flock -w 300 8 || die "another '$PROG' holds $SITE_DIR/run/lock for more than 300 s"
  case $1 in
    up) site_up ;;
    down) site_stop; msg "site $SITE: down" ;;
    *) msg "with SLURM_DEV_SITE set, only up, down and status apply"; exit 2 ;;
  esac
}
