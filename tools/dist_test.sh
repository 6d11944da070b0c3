#!/usr/bin/env bash
# Distributed testing on one or more nodes (see dist_run.sh for the environment).
# Usage: tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py options]
set -euo pipefail
exec "$(dirname "$0")/dist_run.sh" test.py "$3" "$1" "$2" "${@:4}"
