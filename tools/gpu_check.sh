#!/usr/bin/env bash
# The GPU check, one script for a bare CUDA machine (its Python with CUDA builds of torch and
# torchvision; no network needed), meant to end well inside 10 minutes on one H100:
#
#   bash tools/gpu_check.sh WHEEL_DIR TABLE
#
#   1. install: scripts/install_cuda.sh WHEEL_DIR (wheels from tools/misc/prepare_cuda_wheels.sh);
#   2. the GPU tests: CUDA forward and backward of every component against the CPU, predictions,
#      mixed-precision training iterations, channels-last, mmcv's operators on the GPU, and
#      MMDetection's Panoptic FPN and Mask2Former predicting on CUDA;
#   3. parity with the authors' implementation on CUDA (tests/test_parity.py, the same segments
#      as on the CPU);
#   4. tools/analysis_tools/benchmark.py on CUDA, random weights, batch 1, CUDA-synchronised,
#      10 warm-up runs, then NUM_IMAGES (30) timed ones: Panoptic FCN R50 against MMDetection's
#      Panoptic FPN R50 and Mask2Former R50, at 800x1333 and at the 512 test size (512x854), in
#      float32 and in fp16 autocast, and fp16 channels-last at 800x1333. The tables go to TABLE
#      (Markdown), the JSON beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
usage='usage: bash tools/gpu_check.sh WHEEL_DIR TABLE'
WHEELS=${1:?$usage}
TABLE=${2:?$usage}
VENV=${MMPFCN_VENV:-$(pwd)/.venv-cuda}
PY=$VENV/bin/python
NUM_IMAGES=${NUM_IMAGES:-30}
# Each benchmark run gets at most this many seconds, so that a slow one cannot take the tables
# of the others with it.
RUN_LIMIT=${RUN_LIMIT:-150}
start=$(date +%s)
stage() { echo "[gpu_check] $(( $(date +%s) - start )) s: $*"; }

stage "1/4 install"
MMPFCN_VENV=$VENV bash scripts/install_cuda.sh "$WHEELS"
gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -n1)
stage "GPU: $gpu"

status=0
stage "2/4 GPU tests"
"$PY" -m pytest -q -p no:cacheprovider tests/test_models/test_gpu \
  tests/test_models/test_layers/test_sampled_deform_conv.py || status=1
stage "3/4 parity on CUDA"
MMPFCN_TEST_DEVICE=cuda "$PY" -m pytest -q -p no:cacheprovider tests/test_parity.py || status=1

stage "4/4 benchmark"
mkdir -p "$(dirname "$TABLE")"
{
  echo "# GPU check: $gpu"
  echo
  echo "$("$PY" -c 'import torch, mmcv; print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, mmcv {mmcv.__version__}")')"
  echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown); random weights; batch 1;" \
       "$NUM_IMAGES timed images after 10 warm-up runs per model; FPS = 1000 / e2e median"
} > "$TABLE"
fcn=configs/panoptic_fcn/panoptic-fcn_r50_fpn_8xb2-ms-1x_coco.py
fcn512=configs/panoptic_fcn/panoptic-fcn-512_r50_fpn_8xb2-ms-3x_coco.py
fpn=mmdet::panoptic_fpn/panoptic-fpn_r50_fpn_1x_coco.py
m2f=mmdet::mask2former/mask2former_r50_8xb2-lsj-50e_coco-panoptic.py
run_benchmark() {  # title, then the tool's arguments
  local title=$1 name
  shift
  name=$(echo "$title" | tr -c 'a-z0-9\n' '-')
  printf '\n## %s\n\n' "$title" >> "$TABLE"
  timeout "$RUN_LIMIT" "$PY" tools/analysis_tools/benchmark.py "$@" --device cuda --num-images "$NUM_IMAGES" \
    --warmup 10 --work-dir "$(dirname "$TABLE")" --out-json "${TABLE%.*}-$name.json" \
    --out-png "${TABLE%.*}-$name.png" | sed -n '/^| /p' >> "$TABLE" || status=1
}
run_benchmark "800x1333, float32" $fcn $fpn $m2f --shape 800 1333
run_benchmark "800x1333, fp16 autocast" $fcn $fpn $m2f --shape 800 1333 --amp
run_benchmark "800x1333, fp16 autocast, channels-last" $fcn $fpn $m2f --shape 800 1333 --amp \
  --channels-last
run_benchmark "512x854, float32" $fcn512 $fpn $m2f --shape 512 854
run_benchmark "512x854, fp16 autocast" $fcn512 $fpn $m2f --shape 512 854 --amp
cat "$TABLE"
stage "done (tests and parity $([[ $status == 0 ]] && echo passed || echo FAILED))"
exit $status
