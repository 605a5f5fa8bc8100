#!/usr/bin/env bash
# Runs one corpus case as a real job on the development Slurm and files it:
#   submit.sh CASE 'SBATCH OPTIONS' 'SCRIPT BODY' [AFTER]
# The body runs as a bash batch script in /tmp/corpus-runs/CASE (its --output out, --error err);
# AFTER (optional) is run by this script once the job runs (e.g. a scancel). When the job has
# ended, out/err are copied unedited into test/corpus/CASE/ with case.json's source, how and state
# (from sacct); `expect` is added afterwards from the readers (read_*.py), not from log-parse.
set -euo pipefail
case=$1 opts=$2 body=$3 after=${4:-}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
corpus="$(cd "$here/../.." && pwd)"
run=/tmp/corpus-runs/$case
rm -rf "$run" && mkdir -p "$run"
printf '#!/bin/bash\n%s\n' "$body" > "$run/job.sh"
# shellcheck disable=SC2086
id=$(sbatch --parsable --chdir="$run" --output="$run/out" --error="$run/err" $opts "$run/job.sh")
echo "$case: job $id" >&2
if [ -n "$after" ]; then
  until [ "$(squeue -h -j "$id" -o %T)" = RUNNING ]; do sleep 1; done
  bash -c "$after" _ "$id"
fi
while squeue -h -j "$id" 2>/dev/null | grep -q .; do sleep 2; done
sleep 2
line=$(sacct -X -n -P -j "$id" -o State,ExitCode,Elapsed,Timelimit | tail -1)
mkdir -p "$corpus/$case"
cp "$run/out" "$run/err" "$corpus/$case/"
python3 - "$corpus/$case/case.json" "$id" "$line" "$opts" "$body" "$(date -u +%F)" "$(scontrol show config | awk '$1=="ClusterName"{print $3}')" <<'PY'
import json, sys
path, job, line, opts, body, day, cluster = sys.argv[1:]
import os
versions = os.environ.get("CORPUS_VERSIONS", "")
state, code, elapsed, limit = line.split("|")
def secs(t):
    if t in ("UNLIMITED", "Partition_Limit", ""): return None
    d, _, t = t.rpartition("-")
    parts = [int(x) for x in t.split(":")]
    while len(parts) < 3: parts.insert(0, 0)
    return (int(d) if d else 0) * 86400 + parts[0] * 3600 + parts[1] * 60 + parts[2]
st = {"state": state, "exit_code": code, "elapsed_s": secs(elapsed)}
if secs(limit) is not None: st["time_limit_s"] = secs(limit)
try: old = json.load(open(path))
except FileNotFoundError: old = {}
spec = {
    "source": f"real Slurm 22.05 job {job} on this project's development cluster (scripts/slurm-dev, private instance {cluster}), {day}; sacct: {line}",
    "how": f"the job's own --output/--error files, unedited; sbatch {opts}; the script was: {body}" + (f" ({versions})" if versions else ""),
    "state": st,
    "expect": old.get("expect", {}),
}
for k in ("files", "dir", "format", "known_miss"):
    if k in old: spec[k] = old[k]
json.dump(spec, open(path, "w"), indent=2)
open(path, "a").write("\n")
PY
echo "$case: $line" >&2
