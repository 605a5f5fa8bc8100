# Sourced before submit.sh: the private Slurm, the venv's python ($PY) and the programs ($P).
export SLURM_DEV_STATE=/tmp/corpus-dev SLURM_DEV_PORT_BASE=9417 SLURM_DEV_DB_PORT=4407
root=/work/wt/corpus
eval "$("$root/scripts/slurm-dev" env)"
export PY=$(bash "$root/scripts/real-venv")
export P=$root/packages/log-parse/test/corpus/_programs/real
export CORPUS_VERSIONS="\$PY = \$(bash scripts/real-venv): Python 3.11, torch 2.13.0+cpu, lightning 2.6.6, transformers 5.18.0, accelerate 1.15.0, tensorboardX 2.6.5; \$P = test/corpus/_programs/real"
