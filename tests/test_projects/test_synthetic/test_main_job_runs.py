"""The whole main job (projects/synthetic/tools/main_job.py) on a tiny
generated set, through its real stages: data, calibration, training
(tools/train.py), test (tools/test.py) and overlays. Four runs share one data
set: seed 0 twice, seed 1, and a seed-0 run killed during training and run
again. Only outcomes are checked, never timings."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest
from mmengine.config import Config

REPO_ROOT = Path(__file__).resolve().parents[3]
MAIN_JOB = REPO_ROOT / 'projects' / 'synthetic' / 'tools' / 'main_job.py'
CONFIG = 'projects/synthetic/configs/panoptic-fcn_effnet-lite0_fpn_synthetic.py'
SIZE = 64
ITERS = 4
STAGES = ['calibrate', 'train', 'test', 'overlays']


def tiny_options() -> List[str]:
    """--cfg-options for a few iterations of 2 images at 64 px, loading in
    the training process, a loss logged every iteration, and one test view."""
    cfg = Config.fromfile(str(REPO_ROOT / CONFIG))
    options = [f'train_cfg.max_iters={ITERS}', 'train_dataloader.batch_size=2',
               'default_hooks.logger.interval=1', 'model.test_cfg.flip=False',
               'model.test_cfg.extra_scales=()']
    for split in ('train', 'val', 'test'):
        loader = f'{split}_dataloader'
        options += [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False']
        pipeline = cfg[loader].dataset.pipeline
        resize = [i for i, step in enumerate(pipeline) if step['type'] == 'Resize'][0]
        options.append(f'{loader}.dataset.pipeline.{resize}.scale=({SIZE},{SIZE})')
    return options


def job_command(data_root: Path, work_dir: Path, seed: int) -> List[str]:
    return [sys.executable, str(MAIN_JOB), '--config', CONFIG, '--seed', str(seed),
            '--data-root', str(data_root), '--num-train', '8', '--num-val', '2',
            '--image-size', str(SIZE), '--num-overlays', '1', '--work-dir', str(work_dir),
            '--amp', 'off', '--cfg-options', *tiny_options()]


def run_job(data_root: Path, work_dir: Path, seed: int) -> dict:
    """Run the job to its end; its summary.json, with the output."""
    proc = subprocess.run(job_command(data_root, work_dir, seed), cwd=REPO_ROOT,
                          capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    summary = json.loads((work_dir / 'summary.json').read_text())
    summary['output'] = output
    return summary


@pytest.fixture(scope='module')
def data_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp('main_job_runs') / 'synthetic'


@pytest.fixture(scope='module')
def first_run(data_root) -> dict:
    return run_job(data_root, data_root.parent / 'seed0', seed=0)


def test_summary_is_complete(first_run):
    summary = first_run
    assert summary['seed'] == 0 and summary['budget_minutes'] == 20
    assert summary['schedule_scaled'] is False
    assert summary['plan']['stages']['train']['iterations'] == ITERS
    cpu = summary['cpu']
    assert cpu['model_name'] and set(cpu['flags']) == {'avx2', 'avx512f', 'avx512_bf16',
                                                        'amx_bf16'}
    assert summary['bfloat16'] is False  # --amp off
    assert set(summary['seconds']) == {'data'} | set(STAGES)
    assert all(seconds > 0 for seconds in summary['seconds'].values())
    assert summary['total_seconds'] >= sum(summary['seconds'].values())
    metrics = summary['metrics']
    for row in ('All', 'Things', 'Stuff'):
        assert set(metrics[row]) == {'PQ', 'SQ', 'RQ'}
        assert all(0 <= value <= 100 for value in metrics[row].values())
    assert set(metrics['by_size']) == {'small', 'medium', 'large'}
    assert sum(size['num_gt'] for size in metrics['by_size'].values()) > 0
    assert set(summary['quality_bar']['met']) == {'PQ', 'PQ_th', 'PQ_st'}
    assert summary['final_losses']['iter'] == ITERS
    assert Path(summary['checkpoint']).name == f'iter_{ITERS}.pth'
    assert all(Path(path).is_file() for path in summary['overlays'])
    # The printed plan and the table.
    assert '[main job] calibration:' in summary['output']
    assert 'predicted' in summary['output'] and 'medium' in summary['output']


def test_same_seed_same_metrics_other_seed_other_run(first_run, data_root):
    again = run_job(data_root, data_root.parent / 'seed0-again', seed=0)
    assert again['seconds']['data'] == 0  # the set is complete: skipped
    assert again['metrics'] == first_run['metrics']
    assert again['final_losses'] == first_run['final_losses']
    other = run_job(data_root, data_root.parent / 'seed1', seed=1)
    assert other['final_losses']['loss'] != first_run['final_losses']['loss']


def test_killed_job_resumes_and_skips_finished_stages(first_run, data_root):
    work_dir = data_root.parent / 'killed'
    train_dir = work_dir / f'{Path(CONFIG).stem}-seed0' / 'train'
    proc = subprocess.Popen(job_command(data_root, work_dir, 0), cwd=REPO_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 600
    while not list(train_dir.glob('iter_*.pth')) and proc.poll() is None:
        assert time.time() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    state = json.loads((train_dir.parent / 'state.json').read_text())
    assert 'calibrate' in state['stages'] and 'test' not in state['stages']

    summary = run_job(data_root, work_dir, seed=0)
    assert 'calibrate' in summary['skipped_stages']
    assert summary['seconds']['calibrate'] == 0
    if 'train' not in summary['skipped_stages']:  # killed before it ended
        assert 'resumed' in summary['output'].lower()
    assert set(summary['metrics']) == set(first_run['metrics'])
    assert Path(summary['checkpoint']).name == f'iter_{ITERS}.pth'
