#!/usr/bin/env bash
# Testing on a Slurm cluster (see slurm_run.sh for the environment).
# Usage: tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py options]
set -euo pipefail
exec "$(dirname "$0")/slurm_run.sh" test.py "$1" "$2" "$3" "$4" "${@:5}"
