"""Issue 7.2: crash-safe resume. With a fixed seed and deterministic mode, a
run killed (SIGKILL) after its second checkpoint and resumed with
``--resume`` gives the same losses, iteration for iteration, as an
uninterrupted run; a kill during a checkpoint write leaves the previous
checkpoint usable; a NaN loss stops training with an error naming the
iteration and the last good checkpoint."""
import glob
import json
import os.path as osp
import re
import signal
from typing import Dict

import pytest
import torch

from .conftest import CONFIG, DATA_DIR, run_tool

KILL_CONFIG = osp.join(DATA_DIR, 'configs',
                       'tiny_panoptic_fcn_kill_on_write.py')
POISON_CONFIG = osp.join(DATA_DIR, 'configs', 'tiny_panoptic_fcn_poison.py')
# 10 iterations, a checkpoint every 2, only the newest one kept (MMEngine's
# own CheckpointHook would delete iter_4.pth before writing iter_6.pth).
OPTIONS = ('--cfg-options', 'train_cfg.max_iters=10', 'val_cfg=None',
           'val_dataloader=None', 'val_evaluator=None',
           'default_hooks.checkpoint.max_keep_ckpts=1')
LOSSES = ('loss', 'loss_center', 'loss_region', 'loss_thing_mask',
          'loss_stuff_mask')


def logged_losses(work_dir: str) -> Dict[int, tuple]:
    """Losses per iteration from every run's ``scalars.json`` in
    ``work_dir``; an iteration logged by two runs must agree exactly."""
    losses: Dict[int, tuple] = {}
    for path in glob.glob(osp.join(work_dir, '*', 'vis_data',
                                   'scalars.json')):
        for line in open(path):
            record = json.loads(line)
            values = tuple(record[key] for key in LOSSES)
            assert losses.setdefault(record['iter'], values) == values
    return losses


@pytest.fixture(scope='module')
def uninterrupted(generated_root, tmp_path_factory) -> Dict[int, tuple]:
    work_dir = str(tmp_path_factory.mktemp('uninterrupted'))
    result = run_tool('train.py', CONFIG, '--work-dir', work_dir, *OPTIONS,
                      data_root=generated_root, cwd=work_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    losses = logged_losses(work_dir)
    assert sorted(losses) == list(range(1, 11))
    return losses


@pytest.mark.parametrize('killed_write', ['iter_6.pth', 'last_checkpoint'])
def test_run_killed_during_third_checkpoint_resumes_identically(
        uninterrupted, generated_root, tmp_path, killed_write):
    """SIGKILL in the middle of writing the third checkpoint (or the third
    ``last_checkpoint`` record), then ``--resume``."""
    work_dir = str(tmp_path)
    pattern = '/' + re.escape(f'.{killed_write}.') + r'[0-9a-f]+\.tmp$'
    killed = run_tool('train.py', KILL_CONFIG, '--work-dir', work_dir,
                      *OPTIONS, data_root=generated_root, cwd=work_dir,
                      MMPFCN_KILL_ON_WRITE=pattern,
                      MMPFCN_KILL_ON_WRITE_COUNT='3' if killed_write ==
                      'last_checkpoint' else '1')
    assert killed.returncode == -signal.SIGKILL
    assert len(glob.glob(osp.join(work_dir, f'.{killed_write}.*.tmp'))) == 1
    last = open(osp.join(work_dir, 'last_checkpoint')).read()
    assert last == osp.join(work_dir, 'iter_4.pth')
    assert torch.load(last)['meta']['iter'] == 4

    resumed = run_tool('train.py', CONFIG, '--work-dir', work_dir,
                       '--resume', *OPTIONS, data_root=generated_root,
                       cwd=work_dir)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Auto resumed from the latest checkpoint {last}." in resumed.stdout
    losses = logged_losses(work_dir)
    assert sorted(losses) == list(range(1, 11))
    assert losses == uninterrupted
    assert sorted(map(osp.basename, glob.glob(osp.join(
        work_dir, 'iter_*.pth')))) == ['iter_10.pth']


def test_nan_loss_stops_training_naming_last_good_checkpoint(
        generated_root, tmp_path):
    """The losses turn NaN at iteration 4, a checkpoint iteration: training
    stops before saving it; iter_2.pth is named and loads finite."""
    work_dir = str(tmp_path)
    result = run_tool('train.py', POISON_CONFIG, '--work-dir', work_dir,
                      '--cfg-options', 'train_cfg.max_iters=6',
                      'val_cfg=None', 'val_dataloader=None',
                      'val_evaluator=None', data_root=generated_root,
                      cwd=work_dir)
    assert result.returncode == 1
    good = osp.join(work_dir, 'iter_2.pth')
    assert result.stderr.rstrip().splitlines()[-1] == (
        'mmpfcn.engine.hooks.finite_loss_hook.NonFiniteLossError: '
        'Non-finite loss at iteration 4 (loss=nan, loss_center=nan, '
        'loss_region=nan, loss_thing_mask=nan, loss_stuff_mask=nan): '
        f'training stopped. The last good checkpoint is {good}; resume from '
        f'it with --resume {good} once the cause (learning rate, data) is '
        'fixed.')
    assert not osp.exists(osp.join(work_dir, 'iter_4.pth'))
    assert open(osp.join(work_dir, 'last_checkpoint')).read() == good
    state = torch.load(good)['state_dict']
    assert all(torch.isfinite(value).all() for value in state.values())
