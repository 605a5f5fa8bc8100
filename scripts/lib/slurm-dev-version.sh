# shellcheck shell=bash
# slurm-dev-version.sh: `scripts/slurm-dev --version 24.11 ...` runs a second, separate cluster
# with Debian 13's Slurm 24.11 beside the host's 22.05. Sourced by scripts/slurm-dev after all its
# functions are defined; `version_main` is its entry point.
#
# How: a Debian 13 (trixie) root file system is built once per machine with mmdebstrap
# (/var/cache/slurmpipe/rootfs-trixie-<hash of the package list>, moved into place atomically).
# Every program of that cluster (munged, mariadbd, slurmdbd, slurmctld, slurmd, the clients) runs
# chrooted into it, in a private mount namespace (unshare -m) where these host paths are
# bind-mounted at the same place, so jobs see the files the tests and users give them:
#   /proc /sys /dev    the kernel's views
#   /tmp /work /root   test scratch directories, checkouts, the user's home (pyenv's python3)
#   /usr/bin/node      the host's node (jobs of the e2e tests run node scripts)
#   /etc/hosts         `localhost` resolves as on the host
#   the state directory (and the short socket directory under /run, if used)
# The cluster has its own state directory (<repo>/.slurm-dev-24.11), ports (6917-6919), MariaDB
# port (3317), munge key and munged socket: nothing is shared with the 22.05 cluster, and
# /etc/slurm/slurm.conf is never touched. The wrapper directory <state>/bin has one script per
# command (sbatch, squeue, ...) that runs it in the root file system; `slurm-dev env --version
# 24.11` prints the PATH and SLURM_CONF that make every slurmpipe command talk to this cluster.

VERSIONS_KNOWN="22.05 24.11"
ROOTFS_CACHE=${SLURM_DEV_ROOTFS_CACHE:-/var/cache/slurmpipe}
ROOTFS_SUITE=trixie
ROOTFS_MIRROR=${SLURM_DEV_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# what the cluster and its jobs need; the hash of this list names the cached root file system
ROOTFS_PACKAGES=(slurm-wlm slurmdbd slurm-client munge mariadb-server bash coreutils procps python3 libstdc++6 ca-certificates)
# the commands the wrapper directory offers (clients for users; daemons and tools for slurm-dev)
VERSION_CLIENTS=(sbatch squeue sacct scancel scontrol sinfo srun salloc sacctmgr sprio sshare sstat sreport)
VERSION_TOOLS=(munge unmunge munged mungekey mariadb mariadb-admin mariadbd mariadb-install-db slurmctld slurmd slurmdbd)

version_rootfs_path() {
  local hash
  hash=$(printf '%s\n' "$ROOTFS_SUITE" "${ROOTFS_PACKAGES[@]}" | sha256sum | cut -c1-12)
  echo "$ROOTFS_CACHE/rootfs-$ROOTFS_SUITE-$hash"
}

# version_build_rootfs: build the root file system unless the cache has it. Built into a
# temporary directory beside it and renamed, so a killed build never leaves a half tree in place;
# concurrent `up`s wait on one lock.
version_build_rootfs() {
  local root tmp
  root=$(version_rootfs_path)
  [ -x "$root/usr/sbin/slurmctld" ] && return 0
  mkdir -p "$ROOTFS_CACHE"
  exec 8>"$ROOTFS_CACHE/.rootfs.lock"
  flock -w 1800 8 || die "another slurm-dev builds $root for more than 30 min"
  if [ ! -x "$root/usr/sbin/slurmctld" ]; then
    if ! command -v mmdebstrap >/dev/null; then
      msg "installing mmdebstrap with apt-get"
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mmdebstrap </dev/null >&2 ||
        { apt-get update </dev/null >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mmdebstrap </dev/null >&2; } ||
        die "cannot install mmdebstrap"
    fi
    tmp=$root.tmp.$$
    rm -rf "$tmp"
    msg "building the Debian $ROOTFS_SUITE root file system $root (once per machine; a few minutes)"
    local incl
    incl=$(IFS=,; echo "${ROOTFS_PACKAGES[*]}")
    if ! mmdebstrap --variant=minbase --include="$incl" --skip=cleanup/apt/lists \
      "$ROOTFS_SUITE" "$tmp" "$ROOTFS_MIRROR" </dev/null >"$ROOTFS_CACHE/build.log" 2>&1; then
      tail -n 25 "$ROOTFS_CACHE/build.log" >&2
      rm -rf "$tmp"
      die "mmdebstrap failed (log: $ROOTFS_CACHE/build.log)"
    fi
    mv "$tmp" "$root"
  fi
  exec 8>&-
}

# version_bind_covered DIR BIND...: DIR is one of the binds or lies under one (binding it again
# would only shadow the same files)
version_bind_covered() {
  local dir b
  dir=$(cd "$1" 2>/dev/null && pwd -P) || die "SLURM_DEV_BINDS: $1 is not a directory"
  shift
  for b in "$@"; do
    case $dir/ in "$b"/*) return 0 ;; esac
  done
  return 1
}

# version_write_wrappers: <state>/bin/<command> runs <command> in the root file system. Inside a
# job (already in the root file system, marked by /etc/slurm-dev-rootfs) a wrapper runs the
# command directly, so `srun` in a batch script works.
version_write_wrappers() {
  local root bin=$STATE/bin c d
  root=$(version_rootfs_path)
  mkdir -p "$bin"
  echo "slurm-dev $VERSION root file system" >"$root/etc/slurm-dev-rootfs"
  # mount points of the bind mounts (directories and files that exist on the host)
  local binds=(/proc /sys /dev /tmp /work /root "$STATE") extra
  [ "$SOCKDIR" = "$STATE" ] || binds+=("$SOCKDIR")
  # the checkout itself wherever it is cloned (a CI clone in /check or /srv would otherwise be
  # invisible to jobs, which then fail to find examples/train.py), and SLURM_DEV_BINDS
  # (space-separated host directories) for anything else a job must see
  for extra in "$REPO" ${SLURM_DEV_BINDS:-}; do
    version_bind_covered "$extra" "${binds[@]}" || binds+=("$(cd "$extra" && pwd -P)")
  done
  for d in "${binds[@]}"; do mkdir -p "$d" "$root$d"; done
  [ -e "$root/usr/bin/node" ] || { [ -x /usr/bin/node ] && : >"$root/usr/bin/node"; }
  # absolute paths: a job or test may run the clients with a PATH without /usr/sbin (chroot)
  local unshare_bin mount_bin chroot_bin
  unshare_bin=$(command -v unshare || true) mount_bin=$(command -v mount || true) chroot_bin=$(command -v chroot || true)
  [ -n "$unshare_bin" ] && [ -n "$mount_bin" ] && [ -n "$chroot_bin" ] ||
    die "the 24.11 wrappers need unshare, mount and chroot (util-linux, coreutils)"
  cat >"$bin/.chroot-run.new" <<RUN
#!/bin/sh
# Written by scripts/lib/slurm-dev-version.sh: run a command of the Slurm $VERSION cluster in its
# Debian $ROOTFS_SUITE root file system. Edit the script, not this file.
export SLURM_CONF='$CONF'
if [ -e /etc/slurm-dev-rootfs ]; then
  # in the root file system: the real binary (PATH leads back to this wrapper)
  for d in /usr/sbin /usr/bin /sbin /bin; do [ -x "\$d/\$1" ] && { c=\$d/\$1; shift; exec "\$c" "\$@"; }; done
  echo "slurm-dev: \$1 is not in the $VERSION root file system" >&2; exit 127
fi
exec $unshare_bin -m --propagation private /bin/sh -c '
  set -e
  R=\$1; shift
  for d in $(printf '%q ' "${binds[@]}"); do $mount_bin --rbind "\$d" "\$R\$d"; done
  $mount_bin --bind /etc/hosts "\$R/etc/hosts"
  [ ! -x /usr/bin/node ] || $mount_bin --bind /usr/bin/node "\$R/usr/bin/node"
  exec $chroot_bin "\$R" /bin/sh -c "cd \"\\\$1\" 2>/dev/null || cd /; shift; exec \"\\\$@\"" sh "\$(pwd)" "$bin/.chroot-run" "\$@"
' sh '$root' "\$@"
RUN
  chmod 755 "$bin/.chroot-run.new"
  mv -f "$bin/.chroot-run.new" "$bin/.chroot-run"
  for c in "${VERSION_CLIENTS[@]}" "${VERSION_TOOLS[@]}"; do
    case $c in
      munge | unmunge) printf '#!/bin/sh\nexec "$(dirname "$0")/.chroot-run" %s --socket=%q "$@"\n' "$c" "$MUNGE_SOCK" ;;
      *) printf '#!/bin/sh\nexec "$(dirname "$0")/.chroot-run" %s "$@"\n' "$c" ;;
    esac >"$bin/$c"
    chmod 755 "$bin/$c"
  done
}

# ---------------------------------------------------------------------------------------------
# Overrides of scripts/slurm-dev's functions for a version other than the host's

version_start_munge() {
  if munge_ok; then return 0; fi
  local key=$ETC/munge.key
  if [ ! -s "$key" ]; then
    msg "creating $key (this cluster's own munge key)"
    (umask 077 && dd if=/dev/urandom of="$key" bs=1024 count=1 status=none)
  fi
  chmod 0600 "$key"
  if ! pid_alive "$(read_pid "$RUN/munged.pid")" munged; then rm -f "$MUNGE_SOCK" "$MUNGE_SOCK.lock"; fi
  : >"$LOG/munge.start.out"
  msg "starting munged (socket $MUNGE_SOCK)"
  # root owns the key and the state directory here, hence --force (munged wants a munge user)
  spawn "$LOG/munge.start.out" munged --force --socket="$MUNGE_SOCK" --key-file="$key" \
    --pid-file="$RUN/munged.pid" --log-file="$LOG/munged.log" --seed-file="$RUN/munged.seed"
  local i
  for i in $(seq 50); do
    munge_ok && return 0
    sleep 0.2
  done
  failed munge "did not start: 'munge -n | unmunge' still fails after 10 s"
}

# version_patch_conf FILE: what Slurm 24.11 needs beyond the 22.05 configuration: the munge
# socket of this cluster (AuthInfo; AccountingStoragePass for the connection to slurmdbd, which
# does not use AuthInfo) and CredType, which replaced CryptoType in 23.11.
version_patch_conf() {
  sed -i -e 's|^CryptoType=crypto/munge$|CredType=cred/munge|' \
    -e "s|^AccountingStorageType=accounting_storage/slurmdbd\$|&\nAccountingStoragePass=$MUNGE_SOCK|" \
    -e "s|^AuthType=auth/munge\$|AuthType=auth/munge\nAuthInfo=socket=$MUNGE_SOCK|" "$1"
}

version_activate() {
  MUNGE_SOCK=$SOCKDIR/run/munge.socket
  mkdir -p "$(dirname "$MUNGE_SOCK")"
  MUNGE_SYS_PID=$RUN/munged.pid
  MUNGE_LOG=$LOG/munged.log
  export PATH=$STATE/bin:$PATH
  ensure_packages() { version_build_rootfs; version_write_wrappers; }
  ensure_etc_link() { :; }  # /etc/slurm/slurm.conf belongs to the host's cluster
  start_munge() { version_start_munge; }
  any_pid() { return 1; }   # a daemon of that name not ours is the host cluster's: never touch it
  eval "host_install_if_changed() $(declare -f install_if_changed | tail -n +2)"
  install_if_changed() {
    case $2 in "$CONF" | "$DBD_CONF") version_patch_conf "$1" ;; esac
    host_install_if_changed "$@"
  }
}

version_env() {
  printf 'export SLURM_DEV_VERSION=%q\n' "$VERSION"
  printf 'export SLURM_CONF=%q\n' "$CONF"
  if [ "$VERSION" != 22.05 ]; then
    printf 'export PATH=%q:"$PATH"\n' "$STATE/bin"
  fi
}

# version_dispatch ARGS...: `--version V` (or SLURM_DEV_VERSION) picks the cluster; the host's
# 22.05 is scripts/slurm-dev as it always was. Another version runs this script again with its
# own state directory and ports, then overrides the functions above.
version_dispatch() {
  local args=() v=${SLURM_DEV_VERSION:-22.05}
  while [ $# -gt 0 ]; do
    case $1 in
      --version) [ $# -ge 2 ] || { msg "--version needs a value: $VERSIONS_KNOWN"; short_usage; exit 2; }; v=$2; shift 2 ;;
      --version=*) v=${1#--version=}; shift ;;
      *) args+=("$1"); shift ;;
    esac
  done
  case " $VERSIONS_KNOWN " in *" $v "*) ;; *) msg "unknown Slurm version '$v' (--version / SLURM_DEV_VERSION): $VERSIONS_KNOWN"; short_usage; exit 2 ;; esac
  VERSION=$v
  if [ "$v" != 22.05 ] && [ "${SLURM_DEV_ACTIVE_VERSION:-}" != "$v" ]; then
    local tag=${v//./}
    local state_var=SLURM_DEV_STATE_$tag port_var=SLURM_DEV_PORT_BASE_$tag db_var=SLURM_DEV_DB_PORT_$tag
    exec env SLURM_DEV_ACTIVE_VERSION="$v" SLURM_DEV_VERSION="$v" \
      SLURM_DEV_STATE="${!state_var:-$REPO/.slurm-dev-$v}" \
      SLURM_DEV_PORT_BASE="${!port_var:-6917}" SLURM_DEV_DB_PORT="${!db_var:-3317}" \
      bash "$SCRIPT_PATH" "${args[@]}"
  fi
  if [ "${args[0]:-}" = env ]; then
    [ ${#args[@]} -eq 1 ] || { msg "'env' takes no argument"; short_usage; exit 2; }
    version_env
    exit 0
  fi
  [ "$v" = 22.05 ] || version_activate
  slurm_dev_main "${args[@]}"
}
