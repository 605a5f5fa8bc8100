/**
 * The Slurm client commands a batch script calls from inside its job, for jobs of the local
 * backend: `srun` (a job step, as Slurm runs it in a one-node allocation), `scontrol` (`requeue`,
 * which the rendered scripts use to resume from a checkpoint, and `show hostnames`) and `module`
 * (there is no module system here: the site profiles' `module load` fails with the profile to use).
 * The job runner (runner-process.ts) writes them into `<local dir>/bin` and puts that directory
 * FIRST on the job's PATH, so a Slurm srun installed on this machine is never reached from a local
 * job (it would ask the real slurmctld about a job id it does not know: "Invalid job id").
 *
 * Shell scripts, not node: a job step must start without node on the job's PATH (the job runs with
 * the submitting shell's environment, whatever it is), in milliseconds (a script may run thousands
 * of steps), and bash is what runs the batch script already. This module imports nothing but node
 * builtins: it is bundled into the runner's text (job-runner.ts).
 */
import fs from "node:fs";
import path from "node:path";

/** Where the shims live, and the marker files they leave for the runner. */
export const shimDir = (dir: string) => path.join(dir, "bin");
export const stepsDir = (dir: string, rawId: number) => path.join(dir, "steps", String(rawId));
export const requeueMarker = (dir: string, rawId: number) => path.join(dir, "requeue", String(rawId));

/**
 * The shims' text as written below: a raw template, where bash's `$\{...}` is spelled `$\{` (a
 * template literal would read `${` as its own interpolation) and turned back here.
 */
function bash(strings: TemplateStringsArray): string {
  return strings.raw.join("").replaceAll("$\\{", "$" + "{");
}

const SRUN = bash`#!/bin/bash
# srun of the slurmpipe local backend (see core/src/local/step-shims.ts): runs the command as a job
# step of this one-node job, -n copies, signals forwarded, exit status as srun's.
set -u
usage() { printf 'srun: %s\nTry "srun --help" for more information\n' "$1" >&2; exit 255; }
fail() { printf 'srun: error: %s\n' "$1" >&2; exit 1; }
[ -n "$\{SLURM_JOB_ID:-}" ] && [ -n "$\{SLURMPIPE_LOCAL_DIR:-}" ] || fail "this srun runs job steps of local-backend jobs only (no SLURM_JOB_ID): run it inside a job submitted with --backend local"
node=$\{SLURMD_NODENAME:-$(hostname -s)}
ntasks=$\{SLURM_NTASKS:-1}
cpus=
chdir=
out=
err=
inp=
int() { case $2 in '' | *[!0-9]* | 0) usage "invalid $1 value: $2" ;; esac; }
# Options that take a value: [value]="" ; options read here are handled below, the others (resource
# shapes: CPU binding, GPUs, memory, MPI, ...) have no meaning on one machine and are accepted.
value_opts=" ntasks nodes cpus-per-task chdir output error input job-name ntasks-per-node cpu-bind mpi mem mem-per-cpu mem-per-gpu gpus gpus-per-node gpus-per-task gres gpu-bind cpus-per-gpu distribution hint time partition account qos constraint nodelist exclude wait export cpu-freq accel-bind network jobid signal open-mode threads-per-core sockets-per-node cores-per-socket mem-bind reservation container time-min begin dependency comment "
flag_opts=" unbuffered overlap oversubscribe whole quiet verbose exact no-kill disable-status overcommit contiguous "
optional_opts=" exclusive kill-on-bad-exit propagate "
refused_opts=" label pty multi-prog het-group "
while [ $# -gt 0 ]; do
  arg=$1
  shift
  case $arg in
    --) break ;;
    --*)
      name=$\{arg#--}
      value=
      has=
      case $name in *=*) value=$\{name#*=}; name=$\{name%%=*}; has=1 ;; esac
      if [[ $refused_opts == *" $name "* ]]; then fail "--$name is not supported by the local backend's srun"; fi
      if [[ $value_opts == *" $name "* ]]; then
        if [ -z "$has" ]; then [ $# -gt 0 ] || usage "option '--$name' requires an argument"; value=$1; shift; fi
      elif [[ $flag_opts == *" $name "* || $optional_opts == *" $name "* ]]; then
        [ -z "$has" ] || [[ $optional_opts == *" $name "* ]] || usage "option '--$name' doesn't allow an argument"
        continue
      else
        usage "unrecognized option '$arg'"
      fi ;;
    -?*)
      letter=$\{arg:1:1}
      rest=$\{arg:2}
      case $letter in
        n) name=ntasks ;; N) name=nodes ;; c) name=cpus-per-task ;; D) name=chdir ;; o) name=output ;;
        e) name=error ;; i) name=input ;; J) name=job-name ;; t) name=time ;; p) name=partition ;;
        A) name=account ;; q) name=qos ;; C) name=constraint ;; w) name=nodelist ;; x) name=exclude ;;
        W) name=wait ;; m) name=distribution ;; G) name=gpus ;;
        l) fail "--label is not supported by the local backend's srun" ;;
        K | u | Q | v | O | k | X | s | Z) [ -z "$rest" ] || [ "$letter" = K ] || usage "invalid option -- '$\{rest:0:1}'"; continue ;;
        *) usage "invalid option -- '$letter'" ;;
      esac
      if [ -n "$rest" ]; then value=$rest; else [ $# -gt 0 ] || usage "option requires an argument -- '$letter'"; value=$1; shift; fi ;;
    *) set -- "$arg" "$@"; break ;;
  esac
  case $name in
    ntasks | ntasks-per-node) int "--$name" "$value"; ntasks=$value ;;
    nodes) min=$\{value%%[-:]*}; int --nodes "$min"; [ "$min" -le 1 ] || fail "Only allocated 1 nodes asked for $min" ;;
    cpus-per-task) int --cpus-per-task "$value"; cpus=$value ;;
    chdir) chdir=$value ;;
    output) out=$value ;;
    error) err=$value ;;
    input) inp=$value ;;
    export) case $value in ALL | ALL,*) ;; *) fail "--export=$value: the local backend's srun passes the job's whole environment (--export=ALL) only" ;; esac ;;
  esac
done
[ $# -gt 0 ] || usage "no command to run"

# The step id: the first free number of this job (mkdir is atomic, so concurrent steps differ).
steps="$SLURMPIPE_LOCAL_DIR/steps/$SLURM_JOB_ID"
mkdir -p "$steps" 2>/dev/null
step=0
until mkdir "$steps/$step" 2>/dev/null; do
  step=$((step + 1))
  [ "$step" -lt 100000 ] || fail "cannot allocate a step id in $steps"
done
pattern() { local p=$\{1//%%/$'\001'}; p=$\{p//%j/$SLURM_JOB_ID}; p=$\{p//%J/$SLURM_JOB_ID.$step}; p=$\{p//%s/$step}; p=$\{p//%N/$node}; p=$\{p//%x/$\{SLURM_JOB_NAME:-}}; p=$\{p//%t/$2}; printf %s "$\{p//$'\001'/%}"; }
gtids=$(seq -s, 0 $((ntasks - 1)))
export SLURM_STEP_ID=$step SLURM_STEPID=$step SLURM_STEP_NUM_TASKS=$ntasks SLURM_STEP_NUM_NODES=1 SLURM_STEP_NODELIST=$node \
  SLURM_STEP_TASKS_PER_NODE=$ntasks SLURM_NTASKS=$ntasks SLURM_NPROCS=$ntasks SLURM_TASKS_PER_NODE=$ntasks SLURM_NODEID=0 \
  SLURM_GTIDS=$gtids SLURM_DISTRIBUTION=block
[ -z "$cpus" ] || export SLURM_CPUS_PER_TASK=$cpus
# Looked up where the task runs (--chdir): a relative command means the one there.
if ! (cd "$\{chdir:-.}" 2>/dev/null && command -v -- "$1" >/dev/null 2>&1); then
  printf 'slurmstepd: error: execve(): %s: No such file or directory\n' "$1" >&2
  printf 'srun: error: %s: task%s %s: Exited with exit code 2\n' "$node" "$([ "$ntasks" -gt 1 ] && echo s)" "$([ "$ntasks" -gt 1 ] && echo "0-$((ntasks - 1))" || echo 0)" >&2
  exit 2
fi
pids=()
for ((t = 0; t < ntasks; t++)); do
  (
    [ -z "$chdir" ] || cd "$chdir" || exit 1
    [ -z "$out" ] || exec >"$(pattern "$out" "$t")" || exit 1
    [ -z "$err" ] || exec 2>"$(pattern "$err" "$t")" || exit 1
    [ -z "$inp" ] || exec <"$(pattern "$inp" "$t")" || exit 1
    export SLURM_PROCID=$t SLURM_LOCALID=$t SLURM_TASK_PID=$BASHPID
    exec "$@"
  ) &
  pids+=($!)
done
# srun forwards these to every task; the batch shell's trap (the rendered requeue-on-signal code)
# signals srun, which is this script.
forward() { kill -s "$1" "$\{pids[@]}" 2>/dev/null; }
for sig in TERM INT HUP QUIT USR1 USR2 ALRM CONT; do trap "forward $sig" "$sig"; done
codes=()
for t in "$\{!pids[@]}"; do
  pid=$\{pids[$t]}
  while :; do
    wait "$pid"
    rc=$?
    # wait returns early (128 + the signal) when a trap ran; the task is still there (or a zombie)
    # until reaped. Reaped meanwhile, bash still knows its status: ask once more (127: already told).
    kill -0 "$pid" 2>/dev/null && continue
    wait "$pid" 2>/dev/null
    again=$?
    [ "$again" -eq 127 ] || rc=$again
    break
  done
  codes[t]=$rc
done
describe() {
  if [ "$1" -le 128 ]; then echo "Exited with exit code $1"; return; fi
  case $(($1 - 128)) in 1) echo Hangup ;; 2) echo Interrupt ;; 6) echo Aborted ;; 7) echo "Bus error" ;; 9) echo Killed ;; 11) echo "Segmentation fault" ;; 15) echo Terminated ;; *) echo "Killed by signal $(($1 - 128))" ;; esac
}
worst=0
for rc in $(printf '%s\n' "$\{codes[@]}" | sort -un); do
  [ "$rc" -ne 0 ] || continue
  [ "$rc" -le "$worst" ] || worst=$rc
  list=
  first=-1
  prev=-2
  for t in "$\{!codes[@]}"; do
    [ "$\{codes[t]}" -eq "$rc" ] || continue
    if [ "$t" -ne $((prev + 1)) ]; then
      [ "$first" -lt 0 ] || list+="$([ "$first" -eq "$prev" ] && echo "$first" || echo "$first-$prev"),"
      first=$t
    fi
    prev=$t
  done
  list+="$([ "$first" -eq "$prev" ] && echo "$first" || echo "$first-$prev")"
  case $list in *[-,]*) word=tasks ;; *) word=task ;; esac
  printf 'srun: error: %s: %s %s: %s\n' "$node" "$word" "$list" "$(describe "$rc")" >&2
done
exit "$worst"
`;

const SCONTROL = bash`#!/bin/bash
# scontrol of the slurmpipe local backend, inside a local job (see core/src/local/step-shims.ts).
set -u
dir=$\{SLURMPIPE_LOCAL_DIR:?this scontrol runs inside local-backend jobs only}
case "$\{1:-}" in
  requeue)
    shift
    rc=0
    for word in "$@"; do
      case $word in -* | Incomplete | incomplete) continue ;; esac
      IFS=, read -r -a ids <<<"$word"
      for id in "$\{ids[@]}"; do
        file="$dir/jobs/$id.json"
        if [[ $id == *_* ]]; then file=$(grep -l "\"id\":\"$id\"" "$dir"/jobs/*.json 2>/dev/null | head -1); fi
        if ! [[ $id =~ ^[0-9]+(_[0-9]+)?$ ]] || [ -z "$file" ] || ! [ -f "$file" ]; then echo "Invalid job id specified for job $id" >&2; rc=1; continue; fi
        job=$(cat "$file")
        raw=$(basename "$file" .json)
        if [[ $job == *'"no_requeue":true'* ]]; then echo "Requested operation is presently disabled for job $id" >&2; rc=1; continue; fi
        case $job in
          *'"state":"PENDING"'*) echo "Job is pending execution for job $id" >&2; rc=1 ;;
          *'"state":"RUNNING"'*) mkdir -p "$dir/requeue" && : >"$dir/requeue/$raw" || rc=1 ;;
          *) echo "Job has already finished for job $id (the local backend requeues running jobs only)" >&2; rc=1 ;;
        esac
      done
    done
    exit "$rc" ;;
  show)
    if [ "$\{2:-}" = hostnames ]; then
      list=$\{3:-$\{SLURM_JOB_NODELIST:-}}
      tr ',' '\n' <<<"$list"
      exit 0
    fi ;;
esac
echo "scontrol: inside a local-backend job only 'scontrol requeue <job id>' and 'scontrol show hostnames' are available (not: $*)" >&2
exit 1
`;

const MODULE = bash`#!/bin/bash
# module, inside a local-backend job (see core/src/local/step-shims.ts). A module system defines
# "module" as a shell function, which bash finds before this file; an executable module further on
# PATH is used as it is.
self=$(dirname "$0")
IFS=: read -r -a dirs <<<"$PATH"
for d in "$\{dirs[@]}"; do
  [ "$d" != "$self" ] && [ -x "$d/module" ] && exec "$d/module" "$@"
done
script=$(grep -o '"script":"[^"]*"' "$\{SLURMPIPE_LOCAL_DIR:-}/jobs/$\{SLURM_JOB_ID:-}.json" 2>/dev/null | head -1 | cut -d '"' -f 4)
profile=$(sed -n 's/^# slurmpipe .*), profile \(.*\)$/\1/p' "$\{script:-/dev/null}" 2>/dev/null | head -1)
echo "module $*: this machine has no environment modules. $\{profile:+This script was rendered with profile $profile, which loads the modules of a site and runs on that site only. }To run it on the local backend, render it with --profile local (or --profile generic)." >&2
exit 127
`;

/** The shims by command name. */
export const STEP_SHIMS: Readonly<Record<string, string>> = { srun: SRUN, scontrol: SCONTROL, module: MODULE };

/** Writes the shims into `<dir>/bin` (atomically, so a job starting meanwhile never runs half a file); returns the directory. */
export function installShims(dir: string): string {
  const bin = shimDir(dir);
  fs.mkdirSync(bin, { recursive: true, mode: 0o700 });
  for (const [name, text] of Object.entries(STEP_SHIMS)) {
    const target = path.join(bin, name);
    try {
      if (fs.readFileSync(target, "utf8") === text) continue;
    } catch {}
    const tmp = target + "." + process.pid + ".tmp";
    fs.writeFileSync(tmp, text, { mode: 0o700 });
    fs.renameSync(tmp, target);
  }
  return bin;
}
