#!/usr/bin/env bash
# Set up mmpfcn on a GPU machine whose Python already has CUDA builds of torch and torchvision
# (a cloud or cluster GPU image), in minutes and without network if need be.
#
#   bash scripts/install_cuda.sh [WHEEL_DIR]
#
# WHEEL_DIR: the wheels and mmcv's source archive written by tools/misc/prepare_cuda_wheels.sh
# (for a machine without network); without it pip fetches the same pins (requirements/cuda.txt).
#
# The route, and why:
#   1. A virtualenv (.venv-cuda, or $MMPFCN_VENV) that sees the site-packages of the machine's
#      Python ($PYTHON, default python3) behind its own: torch, torchvision, numpy, opencv and the
#      rest stay the machine's own, untouched.
#   2. The pure-Python OpenMMLab packages and the few compiled ones mmpfcn needs, from
#      requirements/cuda.txt with --no-deps: nothing can replace the machine's torch or numpy.
#   3. mmcv 2.1.0 (no wheel exists for current torch releases) built from source with its C++
#      operators only: the GPU is hidden from its build, which then takes 1-2 minutes on 16 cores
#      instead of a build of all its CUDA kernels. On the GPU the few mmcv operators the models
#      use (deformable convolution, RoIAlign, nms, deformable attention) run through PyTorch and
#      torchvision (mmpfcn/models/layers/mmcv_cuda_fallbacks.py). The built wheel is kept in
#      WHEEL_DIR (or pip's cache) and reused. MMCV_CUDA_OPS=1 builds mmcv's CUDA kernels instead
#      (for this GPU's architecture only; tens of minutes).
#   4. mmpfcn as an editable install, with the repository root on the path (projects/), as
#      scripts/install.sh's develop install has it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WHEELS=${1:-}
PY=${PYTHON:-python3}
VENV=${MMPFCN_VENV:-$ROOT/.venv-cuda}
start=$(date +%s)

"$PY" -c 'import torch, torchvision; assert torch.cuda.is_available(), "torch sees no GPU"' || {
  echo "[install_cuda] $PY needs CUDA builds of torch and torchvision that see a GPU;" \
       "on a CPU machine use scripts/install.sh" >&2
  exit 1
}
[[ -x $VENV/bin/python ]] || "$PY" -m venv "$VENV"
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# The machine's packages behind the venv's own, also where $PY is itself a venv's (whose
# packages --system-site-packages would not reach).
"$PY" -c 'import site; print("\n".join(site.getsitepackages()))' > "$SITE/machine-site-packages.pth"
# The machine's Python's scripts (ninja: torch compiles extensions in parallel only with it).
PATH="$VENV/bin:$(dirname "$(command -v "$PY")"):$PATH"
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@"; }
if [[ -n $WHEELS ]]; then
  [[ -d $WHEELS ]] || { echo "[install_cuda] no such wheel folder: $WHEELS" >&2; exit 1; }
  source_args=(--no-index --find-links "$WHEELS")
else
  source_args=()
fi

echo "[install_cuda] 1/3 packages of requirements/cuda.txt (--no-deps)"
pip install --no-deps --no-compile "${source_args[@]}" -r requirements/cuda.txt

echo "[install_cuda] 2/3 mmcv 2.1.0"
if ! "$VENV/bin/python" -c 'import mmcv, mmcv.ops; assert mmcv.__version__ == "2.1.0"' 2>/dev/null; then
  build=$(mktemp -d)
  if [[ ${MMCV_CUDA_OPS:-0} == 1 ]]; then
    export FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-$("$VENV/bin/python" -c \
      'import torch; print("%d.%d" % torch.cuda.get_device_capability())')}
    echo "[install_cuda] building mmcv with its CUDA kernels for sm $TORCH_CUDA_ARCH_LIST"
  else
    export CUDA_VISIBLE_DEVICES='' FORCE_CUDA=0
    echo "[install_cuda] building mmcv with its C++ operators (GPU hidden from the build)"
  fi
  MAX_JOBS=${MAX_JOBS:-$(nproc)} pip wheel --no-deps --no-build-isolation "${source_args[@]}" \
    -w "$build" mmcv==2.1.0
  pip install --no-deps "$build"/mmcv-2.1.0-*.whl
  if [[ -n $WHEELS && -w $WHEELS ]]; then cp "$build"/mmcv-2.1.0-*.whl "$WHEELS"/; fi
  rm -rf "$build"
fi

echo "[install_cuda] 3/3 mmpfcn (editable), and the repository root on the path (for projects/)"
# No build isolation: an isolated build would fetch setuptools, and the machine may be offline.
pip install --no-deps --no-build-isolation -e .
echo "$ROOT" > "$SITE/mmpfcn-repository-root.pth"
"$VENV/bin/python" - <<'EOF'
import mmcv, mmdet, torch
import mmpfcn
from mmpfcn.models.layers import mmcv_has_cuda_ops
print(f'[install_cuda] mmpfcn {mmpfcn.__version__}, mmdet {mmdet.__version__}, '
      f'torch {torch.__version__} on {torch.cuda.get_device_name()}, mmcv {mmcv.__version__} '
      f'with {"its CUDA kernels" if mmcv_has_cuda_ops() else "CPU kernels (GPU: PyTorch/torchvision)"}')
EOF
echo "[install_cuda] done in $(( $(date +%s) - start )) s; use $VENV/bin/python"
