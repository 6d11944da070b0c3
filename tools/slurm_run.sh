#!/usr/bin/env bash
# Runs a tool of this folder on a Slurm cluster, one task per GPU;
# slurm_train.sh and slurm_test.sh call it.
# Usage: tools/slurm_run.sh TOOL PARTITION JOB_NAME [tool arguments]
# Environment: GPUS (total, default 8), GPUS_PER_NODE (8), CPUS_PER_TASK (5),
# SRUN_ARGS (extra srun options).
set -euo pipefail
TOOL=$1
PARTITION=$2
JOB_NAME=$3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
read -r -a SRUN_ARGS <<< "${SRUN_ARGS:-}"
TOOLS=$(dirname "$0")

set -x
PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    "${SRUN_ARGS[@]}" \
    "${PYTHON:-python}" -u "$TOOLS/$TOOL" "${@:4}" --launcher=slurm
