"""Shared pieces of the reliability tests: tiny generated datasets, the tiny
Panoptic FCN config and a runner for the command-line tools."""
import os
import os.path as osp
import shutil
import subprocess
import sys
from typing import Dict, List

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmpfcn  # noqa: F401  (registers mmpfcn's components)
from projects.synthetic.synthetic_panoptic import generate_synthetic_panoptic

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATA_DIR = osp.join(REPO_ROOT, 'tests', 'data')
CONFIG = osp.join(DATA_DIR, 'configs', 'tiny_panoptic_fcn.py')
SIZE = 64
NUM_TRAIN = 6
NUM_VAL = 3


@pytest.fixture(autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')


@pytest.fixture(scope='session')
def generated_root(tmp_path_factory) -> str:
    """A tiny synthetic dataset, generated once per session; copy it
    (:func:`synthetic_root`) before changing it."""
    root = str(tmp_path_factory.mktemp('generated') / 'synthetic')
    generate_synthetic_panoptic(root, NUM_TRAIN, NUM_VAL, SIZE, seed=0)
    return root


@pytest.fixture
def synthetic_root(generated_root, tmp_path) -> str:
    """A private copy of the tiny synthetic dataset."""
    root = str(tmp_path / 'synthetic')
    shutil.copytree(generated_root, root)
    return root


def tiny_config(data_root: str, monkeypatch: pytest.MonkeyPatch) -> Config:
    """The tiny Panoptic FCN config reading ``data_root``."""
    monkeypatch.setenv('MMPFCN_TEST_DATA', data_root)
    return Config.fromfile(CONFIG)


def tool_command(tool: str, *args: str) -> List[str]:
    """Command line of ``tools/<tool>``: a .py runs with this Python."""
    path = osp.join(REPO_ROOT, 'tools', tool)
    return ([path] if tool.endswith('.sh') else [sys.executable, path]) + \
        list(args)


def tool_env(data_root: str, **extra: str) -> Dict[str, str]:
    """Environment of a tool process on the tiny config's ``data_root``: one
    CPU thread, mmpfcn and tests/data importable."""
    python_path = [REPO_ROOT, DATA_DIR] + [
        p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p
    ]
    return dict(
        os.environ,
        MMPFCN_TEST_DATA=data_root,
        OMP_NUM_THREADS='1',
        MKL_NUM_THREADS='1',
        PYTHON=sys.executable,
        PYTHONPATH=os.pathsep.join(python_path),
        **extra)


def run_tool(tool: str,
             *args: str,
             data_root: str,
             cwd: str,
             timeout: float = 300,
             **extra_env: str) -> subprocess.CompletedProcess:
    """Run ``tools/<tool>`` to completion, capturing its output."""
    return subprocess.run(
        tool_command(tool, *args),
        cwd=cwd,
        env=tool_env(data_root, **extra_env),
        capture_output=True,
        text=True,
        timeout=timeout)


@pytest.fixture(scope='session')
def random_checkpoint(generated_root, tmp_path_factory) -> str:
    """The tiny model with its initial (random) weights, as a checkpoint."""
    monkeypatch = pytest.MonkeyPatch()
    cfg = tiny_config(generated_root, monkeypatch)
    monkeypatch.undo()
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    path = str(tmp_path_factory.mktemp('checkpoint') / 'random.pth')
    torch.save(dict(state_dict=model.state_dict()), path)
    return path
