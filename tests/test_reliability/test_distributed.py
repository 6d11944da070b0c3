"""Issue 7.1: distributed training and testing through MMEngine's launcher
path (tools/dist_train.sh, tools/dist_test.sh): two gloo processes on CPU on
127.0.0.1 train the real model with synchronised gradients, only rank 0
writes checkpoints and logs, and distributed evaluation sees every image
exactly once (its PQ equals the single-process PQ)."""
import glob
import json
import os
import os.path as osp
import pickle
import socket
import stat
import subprocess
import sys

import pytest
import torch

from .conftest import (CONFIG, DATA_DIR, NUM_TRAIN, NUM_VAL, REPO_ROOT,
                       run_tool, tool_env)

DIST_CONFIG = osp.join(DATA_DIR, 'configs', 'tiny_panoptic_fcn_dist.py')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def dist_env(tmp_path) -> dict:
    """Per-rank work dirs and the probe folder of the dist config."""
    os.makedirs(tmp_path / 'probe', exist_ok=True)
    return dict(
        MMPFCN_TEST_WORK=str(tmp_path / 'work'),
        MMPFCN_TEST_PROBE=str(tmp_path / 'probe'),
        MASTER_ADDR='127.0.0.1',
        PORT=str(free_port()))


def files_under(path) -> list:
    return sorted(
        osp.relpath(osp.join(root, name), path)
        for root, _, names in os.walk(path) for name in names)


def metrics(work_dir: str) -> dict:
    """Panoptic metrics of the (only) test run in ``work_dir``."""
    (path, ) = glob.glob(osp.join(work_dir, '2*', '2*.json'))
    scores = json.loads(open(path).read().splitlines()[-1])
    return {k: v for k, v in scores.items() if k.startswith('coco_panoptic')}


@pytest.fixture(scope='module')
def dist_trained(generated_root, tmp_path_factory):
    """tools/dist_train.sh CONFIG 2: three iterations on two processes."""
    tmp_path = tmp_path_factory.mktemp('dist')
    result = run_tool(
        'dist_train.sh', DIST_CONFIG, '2', '--cfg-options',
        'train_cfg.max_iters=3', 'default_hooks.checkpoint.interval=3',
        'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
        data_root=generated_root, cwd=str(tmp_path), **dist_env(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp_path


def test_two_gloo_processes_train_with_synchronised_gradients(dist_trained):
    ranks = [torch.load(dist_trained / 'probe' / f'rank{rank}.pt')
             for rank in (0, 1)]
    batches = [sum(rank['img_ids'], []) for rank in ranks]
    # Each rank trained on its own half of every pass over the data...
    assert set(batches[0][:NUM_TRAIN // 2]).isdisjoint(
        batches[1][:NUM_TRAIN // 2])
    # ...yet after every step the parameters of both ranks are identical,
    for step0, step1 in zip(ranks[0]['params'], ranks[1]['params']):
        assert step0.keys() == step1.keys()
        assert all(torch.equal(step0[name], step1[name]) for name in step0)
    # and they did change.
    first, last = ranks[0]['params'][0], ranks[0]['params'][-1]
    assert any(not torch.equal(first[name], last[name]) for name in first)


def test_only_rank_zero_writes_checkpoints_and_logs(dist_trained):
    rank0 = dist_trained / 'work' / 'rank0'
    written = files_under(rank0)
    assert {'iter_3.pth', 'last_checkpoint'} <= set(written)
    assert len([f for f in written if f.endswith('.log')]) == 1
    assert files_under(dist_trained / 'work' / 'rank1') == []
    checkpoint = torch.load(rank0 / 'iter_3.pth')
    assert checkpoint['meta']['iter'] == 3
    final = torch.load(dist_trained / 'probe' / 'rank1.pt')['params'][-1]
    for name, value in final.items():
        assert torch.equal(checkpoint['state_dict'][name], value)


def test_distributed_evaluation_sees_every_image_once(dist_trained,
                                                      generated_root):
    """Three validation images on two ranks (the sampler pads to four):
    gathered once each, same predictions and PQ as one process."""
    checkpoint = str(dist_trained / 'work' / 'rank0' / 'iter_3.pth')
    single_dir = dist_trained / 'single'
    single = run_tool(
        'test.py', CONFIG, checkpoint, '--work-dir', str(single_dir),
        '--out', str(single_dir / 'preds.pkl'), data_root=generated_root,
        cwd=str(dist_trained))
    assert single.returncode == 0, single.stderr[-3000:]
    env = dist_env(dist_trained / 'test')
    dist = run_tool(
        'dist_test.sh', DIST_CONFIG, checkpoint, '2', '--out',
        str(dist_trained / 'dist_preds.pkl'), data_root=generated_root,
        cwd=str(dist_trained), **env)
    assert dist.returncode == 0, dist.stdout[-3000:] + dist.stderr[-3000:]

    dist_preds = pickle.load(open(dist_trained / 'dist_preds.pkl', 'rb'))
    single_preds = pickle.load(open(single_dir / 'preds.pkl', 'rb'))
    assert sorted(p['img_id'] for p in dist_preds) == list(
        range(1, NUM_VAL + 1))
    by_id = {p['img_id']: p for p in single_preds}
    for pred in dist_preds:
        assert torch.equal(pred['pred_panoptic_seg']['sem_seg'],
                           by_id[pred['img_id']]['pred_panoptic_seg']
                           ['sem_seg'])
    dist_metrics = metrics(osp.join(env['MMPFCN_TEST_WORK'], 'rank0'))
    assert dist_metrics == metrics(str(single_dir))
    assert 'coco_panoptic/PQ' in dist_metrics
    # MMEngine's LoggerHook dumps the final metrics on every rank (the same
    # values; mmpfcn's atomic writes keep concurrent dumps safe); rank 1
    # writes nothing else.
    (rank1_file, ) = files_under(osp.join(env['MMPFCN_TEST_WORK'], 'rank1'))
    assert rank1_file.endswith('.json')
    assert metrics(osp.join(env['MMPFCN_TEST_WORK'], 'rank1')) == dist_metrics


def finishes_without_process_group(tool: str, *args: str, data_root: str,
                                    cwd: str) -> bool:
    """Run ``tools/<tool> ... --launcher pytorch`` as one rank (the variables
    torch.distributed.run sets) in a fresh process; whether a process group
    is still alive when its ``main()`` has returned."""
    code = ('import runpy, sys, torch; '
            f'sys.argv = {[tool, *args, "--launcher", "pytorch"]!r}; '
            f'runpy.run_path({osp.join(REPO_ROOT, "tools", tool)!r}, '
            'run_name="__main__"); '
            'print("alive:", torch.distributed.is_initialized())')
    result = subprocess.run(
        [sys.executable, '-c', code], cwd=cwd, capture_output=True,
        text=True, timeout=300, env=tool_env(
            data_root, RANK='0', LOCAL_RANK='0', WORLD_SIZE='1',
            MASTER_ADDR='127.0.0.1', MASTER_PORT=str(free_port())))
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.splitlines()[-1] == 'alive: False'


def test_tools_destroy_their_process_group(generated_root, tmp_path):
    """tools/train.py and tools/test.py end by destroying the process group:
    a rank that exits with gloo's threads alive may abort at interpreter
    shutdown ("terminate called without an active exception") after a
    finished run, failing the whole launch."""
    work_dir = str(tmp_path / 'work')
    assert finishes_without_process_group(
        'train.py', CONFIG, '--work-dir', work_dir, '--cfg-options',
        'train_cfg.max_iters=1', 'default_hooks.checkpoint.interval=1',
        'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
        data_root=generated_root, cwd=str(tmp_path))
    assert finishes_without_process_group(
        'test.py', CONFIG, osp.join(work_dir, 'iter_1.pth'), '--work-dir',
        work_dir, data_root=generated_root, cwd=str(tmp_path))
    assert 'coco_panoptic/PQ' in metrics(work_dir)


def test_slurm_train_passes_mmdet_arguments_to_srun(tmp_path):
    """tools/slurm_train.sh as MMDet's: one srun task per GPU running
    train.py with --launcher=slurm (a stub srun records its arguments)."""
    srun = tmp_path / 'srun'
    srun.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$SRUN_LOG"\n')
    srun.chmod(srun.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / 'srun.log'
    result = run_tool(
        'slurm_train.sh', 'gpu', 'pfcn', 'configs/x.py', 'work_dirs/x',
        '--resume', data_root='', cwd=str(tmp_path), GPUS='16',
        SRUN_LOG=str(log),
        PATH=f'{tmp_path}{os.pathsep}{os.environ["PATH"]}')
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == [
        '-p', 'gpu', '--job-name=pfcn', '--gres=gpu:8', '--ntasks=16',
        '--ntasks-per-node=8', '--cpus-per-task=5', '--kill-on-bad-exit=1',
        sys.executable, '-u', osp.join(REPO_ROOT, 'tools', 'train.py'),
        'configs/x.py', '--work-dir=work_dirs/x', '--resume',
        '--launcher=slurm'
    ]
