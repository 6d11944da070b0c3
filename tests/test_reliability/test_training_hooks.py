"""The reliability hooks come from the configs, not from tools/train.py:
mmpfcn's runtime base and every test config declare ``SafeCheckpointHook``,
``FiniteLossHook`` and ``BadSampleReportHook`` (the crash-safe resume and
bad-data tests rely on them), and tools/train.py trains with the hooks a
config declares, adding none."""
import glob
import os.path as osp
import sys
from typing import List

import pytest
from mmengine.config import Config

from .conftest import CONFIG, DATA_DIR, REPO_ROOT
from .test_bad_config import load_train_tool

RUNTIME_BASE = osp.join(REPO_ROOT, 'configs', '_base_', 'default_runtime.py')
TEST_CONFIGS = sorted(glob.glob(osp.join(DATA_DIR, 'configs', '*.py')))
TRAINING_HOOKS = ('FiniteLossHook', 'BadSampleReportHook')


def hook_types(cfg: Config) -> List[str]:
    return [hook['type'] for hook in cfg.get('custom_hooks', [])]


@pytest.mark.parametrize(
    'path', [RUNTIME_BASE] + TEST_CONFIGS, ids=osp.basename)
def test_config_declares_training_hooks(path):
    cfg = Config.fromfile(path, import_custom_modules=False)
    assert cfg.default_hooks.checkpoint.type == 'SafeCheckpointHook'
    assert set(TRAINING_HOOKS) <= set(hook_types(cfg))


def test_train_tool_adds_no_hooks(generated_root, tmp_path, monkeypatch):
    """A config that asks for MMEngine's CheckpointHook and no custom hooks
    reaches the runner as written."""
    built = []

    class NoTraining:

        def train(self) -> None:
            pass

    def build_runner(cfg: Config) -> NoTraining:
        built.append(cfg)
        return NoTraining()

    tool = load_train_tool()
    monkeypatch.setattr(tool, 'build_runner', build_runner)
    monkeypatch.setenv('MMPFCN_TEST_DATA', generated_root)
    monkeypatch.setattr(sys, 'argv', [
        'train.py', CONFIG, '--work-dir',
        str(tmp_path / 'work'), '--cfg-options',
        'default_hooks.checkpoint.type=CheckpointHook', 'custom_hooks=[]'
    ])
    tool.main()
    cfg, = built
    assert cfg.default_hooks.checkpoint.type == 'CheckpointHook'
    assert hook_types(cfg) == []
