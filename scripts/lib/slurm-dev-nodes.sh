# shellcheck shell=bash
# Sourced by scripts/slurm-dev (after its settings and functions, before main): private instances
# beside the shared cluster, and several nodes in network namespaces (`up --nodes N`, `kill-node`).
#
# Private instance: a state directory other than <repo>/.slurm-dev gets its own cluster name and
# MariaDB port derived from it, never repoints /etc/slurm/slurm.conf (the shared cluster's), and
# `stop <daemon>` only ever stops a daemon it started (never another instance's of the same name).
#
# Several nodes: node1..nodeN, one slurmd each, each in its own network namespace joined to a
# bridge on the host. The host side of the bridge is slurmctld's address; node i is 10.<net>.0.<10+i>.
# All of it lives on this machine: munge's socket and the file system are shared, only the network
# is private, so srun across nodes and multi-node launches really go over separate addresses.

NODES_FILE=$ETC/nodes  # node count of the last `up`, so down/status/kill-node know the shape
NODES_ARG=""
# shellcheck source=slurm-dev-cgroup.sh
. "$REPO/scripts/lib/slurm-dev-cgroup.sh"
# shellcheck source=slurm-dev-preempt.sh
. "$REPO/scripts/lib/slurm-dev-preempt.sh"
DEFAULT_STATE=$(realpath -m "$REPO/.slurm-dev")
is_default_state() { [ "$STATE" = "$DEFAULT_STATE" ]; }

# nodes_init ARGS...: reads --nodes N out of the arguments (the rest is left in NODES_REST) and
# sets up the instance and the node shape; slurm-dev then runs its main on NODES_REST.
nodes_init() {
NODES_REST=()
while [ $# -gt 0 ]; do
  case $1 in
    --nodes)
      [[ ${2:-} =~ ^[1-9]$ ]] || { printf '%s: error: --nodes takes a node count from 1 to 9, not %q\n' "$PROG" "${2:-}" >&2; exit 2; }
      NODES_ARG=$2; shift 2 ;;
    --nodes=*) set -- --nodes "${1#--nodes=}" "${@:2}" ;;
    --preempt) PREEMPT_ARG=on; shift ;;
    --no-preempt) PREEMPT_ARG=off; shift ;;
    *) NODES_REST+=("$1"); shift ;;
  esac
done
if ! is_default_state; then
  CLUSTER=sp$(printf '%s' "$STATE" | cksum | cut -d' ' -f1)
  [ -n "${SLURM_DEV_DB_PORT:-}" ] || DB_PORT=$((3307 + PORT_BASE - 6817))
fi
[[ $PORT_BASE =~ ^[1-9][0-9]*$ ]] && [ "$PORT_BASE" -le 65000 ] ||
  { printf '%s: error: SLURM_DEV_PORT_BASE must be a port number (1-65000), not %q\n' "$PROG" "$PORT_BASE" >&2; exit 2; }

NET_ID=$((20 + PORT_BASE % 200))  # 10.<NET_ID>.0.0/24, one private net per port base
BRIDGE=spbr$NET_ID
CTLD_ADDR=10.$NET_ID.0.1

node_count() {
  if [ -n "$NODES_ARG" ]; then echo "$NODES_ARG"
  elif [ -s "$NODES_FILE" ]; then tr -dc '0-9' <"$NODES_FILE"
  else echo 1; fi
}
multi_node() { [ "$(node_count)" -gt 1 ]; }
node_ns() { echo "spdev$NET_ID-$1"; }
node_addr() { echo "10.$NET_ID.0.$((10 + ${1#node}))"; }
node_veth() { echo "spv${NET_ID}h${1#node}"; }
node_names() { local i; for ((i = 1; i <= $(node_count); i++)); do echo "node$i"; done; }

if multi_node; then NODE="node[1-$(node_count)]"; fi

# nodes_edit_conf FILE: called by write_configs on the new slurm.conf before it is installed
nodes_edit_conf() {
  local f=$1 n lines="" mem
  echo "$(node_count)" >"$NODES_FILE.new" && mv -f "$NODES_FILE.new" "$NODES_FILE"
  is_default_state || cgroup_edit_conf "$f"
  preempt_edit_conf "$f"
  multi_node || return 0
  mem=$(real_memory_mb)
  for n in $(node_names); do
    lines+="NodeName=$n NodeAddr=$(node_addr "$n") CPUs=$CPUS RealMemory=$mem State=UNKNOWN"
    [ -f "$ETC/gres.conf" ] && lines+=" Gres=gpu:$GPUS"
    lines+=$'\n'
  done
  # one slurmd per node: their pid, log and spool files are named after the node (%n)
  sed -i -e "s|^SlurmctldHost=.*|SlurmctldHost=localhost($CTLD_ADDR)|" \
    -e "s|^SlurmdPidFile=.*|SlurmdPidFile=$RUN/slurmd-%n.pid|" \
    -e "s|^SlurmdLogFile=.*|SlurmdLogFile=$LOG/slurmd-%n.log|" \
    -e "s|^SlurmdSpoolDir=.*|SlurmdSpoolDir=$SLURMD_SPOOL/%n|" \
    -e '/^NodeName=/d' -e "s|Nodes=[^ ]*|Nodes=$NODE|" "$f"
  # a lost node is declared DOWN (its jobs NODE_FAIL) after 10 s instead of the default 300 s
  printf '%s' "$lines" >>"$f"
  printf 'SlurmdTimeout=10\n' >>"$f"
  # slurmctld lists a NODE_FAIL job MinJobAge seconds, and slurm-poll rightly waits that long
  # (a requeue may still bring it back): 60 s instead of 300 s keeps node-failure tests short
  sed -i 's|^MinJobAge=.*|MinJobAge=60|' "$f"
  return 0
}

nodes_net_up() {
  local n ns veth
  if ! command -v ip >/dev/null 2>&1; then
    msg "several nodes need 'ip' (network namespaces); installing iproute2 with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iproute2 </dev/null >&2 ||
      { apt-get update </dev/null >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iproute2 </dev/null >&2; } ||
      die "cannot install iproute2: install it by hand, or run without --nodes"
  fi
  ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge
  ip addr show dev "$BRIDGE" | grep "inet $CTLD_ADDR/" >/dev/null || ip addr add "$CTLD_ADDR/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  for n in $(node_names); do
    ns=$(node_ns "$n") veth=$(node_veth "$n")
    [ -e "/run/netns/$ns" ] || ip netns add "$ns"
    if ! ip link show "$veth" >/dev/null 2>&1; then
      ip link add "$veth" type veth peer name eth0 netns "$ns"
      ip netns exec "$ns" ip addr add "$(node_addr "$n")/24" dev eth0
    fi
    ip link set "$veth" master "$BRIDGE" up
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ip link set eth0 up
  done
}

nodes_net_down() {
  local n
  for n in $(node_names); do
    ip link del "$(node_veth "$n")" 2>/dev/null || true
    ip netns del "$(node_ns "$n")" 2>/dev/null || true
  done
  ip link del "$BRIDGE" 2>/dev/null || true
}

node_pid() { local p; p=$(read_pid "$RUN/slurmd-$1.pid"); pid_alive "$p" slurmd && echo "$p"; }

if multi_node; then
  eval "single_$(declare -f our_pid)"
  # our_pid slurmd: the pids of every node's slurmd (stop_daemon and down stop them all)
  our_pid() {
    [ "$1" = slurmd ] || { single_our_pid "$1"; return; }
    local n p out=""
    for n in $(node_names); do p=$(node_pid "$n") && out="$out $p"; done
    echo "${out# }"
    [ -n "$out" ]
  }
  start_slurmd() {
    local n
    nodes_net_up
    for n in $(node_names); do
      node_pid "$n" >/dev/null && continue
      mkdir -p "$SLURMD_SPOOL/$n" && chmod 700 "$SLURMD_SPOOL/$n"
      msg "starting slurmd $n ($(node_addr "$n"), network namespace $(node_ns "$n"))"
      # nsenter, not `ip netns exec`: that remounts /sys, and slurmd needs the cgroup mounts under it
      nsenter --net="/run/netns/$(node_ns "$n")" slurmd -N "$n" </dev/null >>"$LOG/slurmd-$n.start.out" 2>&1 9>&- ||
        failed slurmd "$n refused to start"
    done
  }
  # node_state: the first node that is not usable, else the first node's state
  node_state() {
    local line first=""
    while read -r line; do
      [ -z "$first" ] && first=$line
      state_usable "$line" || { echo "$line"; return; }
    done < <(timeout 20 sinfo -h -N -n "$NODE" -o %t 2>/dev/null)
    echo "$first"
  }
  # the bridge carries slurmctld's address: it must exist before slurmctld and the clients use it
  eval "single_$(declare -f start_slurmctld)"
  start_slurmctld() { nodes_net_up; single_start_slurmctld; }
  eval "single_$(declare -f cmd_down)"
  cmd_down() { single_cmd_down; nodes_net_down; }
fi

if ! is_default_state; then
  # never repoint the shared cluster's /etc/slurm/slurm.conf at a private instance
  ensure_etc_link() { msg "private instance: use it with  export SLURM_CONF=$CONF"; }
  # `stop <daemon>` stops only what this instance started, never the shared cluster's daemon
  eval "single_$(declare -f stop_daemon)"
  stop_daemon() { single_stop_daemon "$1"; }
fi
}

# kill-node NAME: a node failure. Every process in the node's namespace (slurmd, slurmstepd, the
# job) is killed and its link cut, as when a node loses power; slurmctld declares it DOWN after
# SlurmdTimeout and ends its jobs NODE_FAIL (or requeues them). `up` brings the node back.
cmd_kill_node() {
  local n=$1 ns pids
  multi_node || die "kill-node needs a cluster started with 'up --nodes N' (N > 1)"
  [[ " $(node_names | tr '\n' ' ') " == *" $n "* ]] || die "no node '$n' (nodes: $(node_names | tr '\n' ' '))"
  ns=$(node_ns "$n")
  ip link set "$(node_veth "$n")" down 2>/dev/null || true
  pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
  rm -f "$RUN/slurmd-$n.pid"
  msg "node $n killed (pids: ${pids:-none}); its link is down. '$SELF up --nodes $(node_count)' revives it"
}

# nodes_main ARGS...: the commands and options this file adds; returns 1 when not ours
nodes_main() {
  case ${1:-} in
    kill-node)
      [ $# -eq 2 ] || { msg "'kill-node' needs one node name"; short_usage; exit 2; }
      need_root kill-node
      cmd_kill_node "$2"
      exit 0
      ;;
  esac
  return 1
}
