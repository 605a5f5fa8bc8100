# shellcheck shell=bash
# Sourced by scripts/lib/slurm-dev-nodes.sh: memory limits through cgroups for private instances.
# task/cgroup with ConstrainRAMSpace=yes makes the kernel kill a job that allocates past --mem,
# and sacct then says OUT_OF_MEMORY, as on real sites. Only private instances get it (the shared
# cluster's behaviour stays as its tests expect); only where the machine allows it.

# cgroup_why_not: prints why memory cannot be constrained here, or nothing when it can
cgroup_why_not() {
  if [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
    [ -w /sys/fs/cgroup/memory ] || { echo "/sys/fs/cgroup/memory is not writable"; return; }
    [ -d /sys/fs/cgroup/freezer ] || { echo "no cgroup v1 freezer controller (proctrack/cgroup needs it)"; return; }
    return 0
  fi
  echo "no cgroup v1 memory controller at /sys/fs/cgroup/memory (cgroup v2 only is not wired up here)"
}

# cgroup_edit_conf FILE: turns on memory enforcement in the new slurm.conf, or says why not
cgroup_edit_conf() {
  local f=$1 why
  why=$(cgroup_why_not)
  if [ -n "$why" ]; then
    msg "memory limits not enforced (--mem is only accounted): $why"
    rm -f "$ETC/cgroup.conf"
    return 0
  fi
  # memory must be a consumable resource, else the job's cgroup gets no limit (alloc=0MB); a
  # job without --mem gets 1 GB per CPU, not the whole node
  sed -i -e 's|^TaskPlugin=.*|TaskPlugin=task/cgroup|' -e 's|^ProctrackType=.*|ProctrackType=proctrack/cgroup|' \
    -e 's|^SelectTypeParameters=.*|SelectTypeParameters=CR_Core_Memory\nDefMemPerCPU=1024|' "$f"
  # a job id of this instance must not name another instance's cgroup (they share the hierarchy)
  printf 'FirstJobId=%d\n' $((PORT_BASE * 1000)) >>"$f"
  cat >"$ETC/cgroup.conf.new" <<CG
# Written by scripts/slurm-dev (scripts/lib/slurm-dev-cgroup.sh). Edit the script, not this file.
CgroupPlugin=cgroup/v1
CgroupAutomount=no
ConstrainCores=no
ConstrainRAMSpace=yes
ConstrainSwapSpace=yes
AllowedSwapSpace=0
CG
  install_if_changed "$ETC/cgroup.conf.new" "$ETC/cgroup.conf" 644 || true
}
