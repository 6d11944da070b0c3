#!/usr/bin/env bash
# Distributed training on one or more nodes (see dist_run.sh for the environment).
# Usage: tools/dist_train.sh CONFIG GPUS [train.py options]
set -euo pipefail
exec "$(dirname "$0")/dist_run.sh" train.py "$2" "$1" "${@:3}"
