"""Checkpoints under torch's default weights-only loading: MMEngine's own
checkpoints resume and load, malicious ones are refused with an error naming
file and global, and nothing in them runs."""
import copy
import decimal
import os
import os.path as osp
import pickle
import shutil
from typing import Any, Callable, Tuple

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

from mmpfcn.utils import (UnsafeCheckpointError,
                          install_safe_checkpoint_loading,
                          mmengine_safe_globals)
from mmpfcn.utils.checkpoint_safety import load_from_local_weights_only

DATA_DIR = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data')
CONFIG = osp.join(DATA_DIR, 'configs', 'tiny_regression.py')


@pytest.fixture
def tiny_cfg(tmp_path, monkeypatch) -> Config:
    """The tiny regression config: 2 iterations, a checkpoint each."""
    monkeypatch.syspath_prepend(DATA_DIR)
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = str(tmp_path / 'train')
    cfg.train_cfg.max_iters = 2
    cfg.default_hooks.checkpoint.interval = 1
    return cfg


@pytest.fixture
def trained(tiny_cfg) -> Tuple[Config, str]:
    """Train 2 iterations; return the config and the last checkpoint."""
    cfg = copy.deepcopy(tiny_cfg)
    cfg.experiment_name = 'train'
    Runner.from_cfg(cfg).train()
    return tiny_cfg, osp.join(cfg.work_dir, 'iter_2.pth')


class ResumeProbe(Hook):
    """Records the state a resumed run starts from (``before_train`` runs
    after ``load_or_resume`` and before the first new iteration)."""

    def before_train(self, runner) -> None:
        self.iter = runner.iter
        self.optimizer_state = copy.deepcopy(
            runner.optim_wrapper.state_dict()['state'])


def momentum_buffers(optimizer_state: dict) -> list:
    return [state['momentum_buffer'] for state in optimizer_state.values()]


def test_runner_checkpoint_round_trip(trained, tmp_path):
    cfg, ckpt = trained
    assert torch.serialization.get_unsafe_globals_in_checkpoint(ckpt) == []
    saved = torch.load(ckpt)  # torch's own default: weights_only=True
    assert saved['meta']['iter'] == 2
    saved_momentum = momentum_buffers(saved['optimizer']['state'])
    assert saved_momentum and all(m.abs().sum() > 0 for m in saved_momentum)

    resume_cfg = copy.deepcopy(cfg)
    resume_cfg.experiment_name = 'resume'
    resume_cfg.resume = True
    resume_cfg.train_cfg.max_iters = 3
    runner = Runner.from_cfg(resume_cfg)
    probe = ResumeProbe()
    runner.register_hook(probe)
    runner.train()

    assert probe.iter == 2
    resumed_momentum = momentum_buffers(probe.optimizer_state)
    assert len(resumed_momentum) == len(saved_momentum)
    for resumed, expected in zip(resumed_momentum, saved_momentum):
        torch.testing.assert_close(resumed, expected, rtol=0, atol=0)
    assert runner.iter == 3
    assert osp.isfile(osp.join(cfg.work_dir, 'iter_3.pth'))

    load_cfg = copy.deepcopy(cfg)
    load_cfg.experiment_name = 'load_from'
    load_cfg.work_dir = str(tmp_path / 'load_from')
    load_cfg.load_from = ckpt
    runner = Runner.from_cfg(load_cfg)
    runner.load_or_resume()
    state = runner.model.state_dict()
    assert state.keys() == saved['state_dict'].keys()
    for name, value in saved['state_dict'].items():
        torch.testing.assert_close(state[name], value, rtol=0, atol=0)


def test_every_allowed_global_is_needed(trained):
    """The allow-list is exact: without any one entry, MMEngine's checkpoint
    no longer loads."""
    _, ckpt = trained
    installed = torch.serialization.get_safe_globals()
    allowed = mmengine_safe_globals()
    try:
        for entry in allowed:
            torch.serialization.clear_safe_globals()
            torch.serialization.add_safe_globals(
                [other for other in allowed if other is not entry])
            with pytest.raises(pickle.UnpicklingError):
                torch.load(ckpt)
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(installed)
    torch.load(ckpt)


class Payload:
    """Pickles as a call of ``func(*args)``, the classic pickle exploit."""

    def __init__(self, func: Callable, args: tuple) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> Tuple[Callable, tuple]:
        return self.func, self.args


def save_payload(path: str, func: Callable, args: Tuple[Any, ...]) -> None:
    torch.save(dict(state_dict={}, meta=Payload(func, args)), path)


@pytest.mark.parametrize(
    'make_payload, global_name',
    [(lambda marker: (os.system, (f'touch {marker}', )), 'posix.system'),
     (lambda marker: (shutil.copyfile, (__file__, marker)), 'shutil.copyfile'),
     (lambda marker: (getattr, (HistoryBuffer, '__init__')),
      'mmengine.logging.history_buffer.HistoryBuffer.__init__')],
    ids=['os.system', 'shutil.copyfile', 'getattr'])
def test_malicious_checkpoint_is_refused(tmp_path, make_payload, global_name):
    marker = str(tmp_path / 'pwned')
    path = str(tmp_path / 'evil.pth')
    save_payload(path, *make_payload(marker))

    with pytest.raises(UnsafeCheckpointError) as error:
        _load_checkpoint(path)

    assert isinstance(error.value, RuntimeError)
    assert f'Refusing to load checkpoint {path}' in str(error.value)
    assert f"the global '{global_name}'" in str(error.value)
    assert not osp.exists(marker)


def test_refusal_names_an_unlisted_class(tmp_path):
    """Classes rejected while rebuilding an object are named too: every numpy
    dtype is plain data, a ``decimal.Decimal`` is not on the list."""
    path = str(tmp_path / 'decimal.pth')
    torch.save(dict(meta=dict(history=decimal.Decimal('1'))), path)

    with pytest.raises(
            UnsafeCheckpointError, match="global 'decimal.Decimal'"):
        _load_checkpoint(path)


def test_runner_load_from_refuses_malicious_checkpoint(tiny_cfg, tmp_path,
                                                       monkeypatch):
    """Also through the Runner, and even with torch's opt-out switched on."""
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    marker = str(tmp_path / 'pwned')
    path = str(tmp_path / 'evil.pth')
    save_payload(path, os.system, (f'touch {marker}', ))
    cfg = copy.deepcopy(tiny_cfg)
    cfg.experiment_name = 'malicious'
    cfg.load_from = path
    runner = Runner.from_cfg(cfg)

    with pytest.raises(UnsafeCheckpointError, match="'posix.system'"):
        runner.load_or_resume()
    assert not osp.exists(marker)


def test_install_is_idempotent():
    guarded = CheckpointLoader.load_checkpoint.__func__
    safe_globals = set(torch.serialization.get_safe_globals())

    install_safe_checkpoint_loading()

    assert CheckpointLoader.load_checkpoint.__func__ is guarded
    assert guarded.mmpfcn_guarded
    assert set(torch.serialization.get_safe_globals()) == safe_globals
    assert set(mmengine_safe_globals()) <= safe_globals
    assert CheckpointLoader._schemes[''] is load_from_local_weights_only
