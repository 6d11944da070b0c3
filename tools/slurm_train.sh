#!/usr/bin/env bash
# Training on a Slurm cluster (see slurm_run.sh for the environment).
# Usage: tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]
set -euo pipefail
exec "$(dirname "$0")/slurm_run.sh" train.py "$1" "$2" "$3" --work-dir="$4" "${@:5}"
