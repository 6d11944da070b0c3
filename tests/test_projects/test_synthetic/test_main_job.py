"""CI smoke run of the main job's pieces: tools/train.py and tools/test.py run
the synthetic config as subprocesses on a tiny generated set (8 train / 4 val
images of 128 px, 4 iterations), and projects/synthetic/tools/main_job.py's
overlay and metric helpers work on their outputs. The whole job's runs (seeds,
summary, resuming) are in test_main_job_runs.py. Only outcomes are checked,
never timings."""
import glob
import importlib.util
import os
import os.path as osp
import subprocess
import sys
from pathlib import Path
from typing import List

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from projects.synthetic.synthetic_panoptic import generate_synthetic_panoptic

REPO_ROOT = Path(__file__).resolve().parents[3]
DEMO = REPO_ROOT / 'projects' / 'synthetic'
CONFIG = 'projects/synthetic/configs/panoptic-fcn_r18_fpn_synthetic.py'
PRETRAINED_CONFIG = 'projects/synthetic/configs/panoptic-fcn_r18-thing-crops_fpn_synthetic.py'
PRETRAIN_CONFIG = 'projects/synthetic/configs/thing-crop-classifier_r18_synthetic.py'
SIZE = 128
MAX_ITERS = 4
NUM_VAL = 4
PQ_KEYS = [f'coco_panoptic/{m}{s}' for s in ('', '_th', '_st') for m in ('PQ', 'SQ', 'RQ')]


def load_main_job():
    spec = importlib.util.spec_from_file_location('main_job', DEMO / 'tools' / 'main_job.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shrink_options(root: Path) -> List[str]:
    """--cfg-options pointing the config at the tiny set, at 128 px, for a few iterations."""
    cfg = Config.fromfile(str(REPO_ROOT / CONFIG))
    options = [f'train_cfg.max_iters={MAX_ITERS}', f'train_cfg.val_interval={MAX_ITERS}',
               f'default_hooks.checkpoint.interval={MAX_ITERS}', 'default_hooks.logger.interval=1',
               'train_dataloader.batch_size=2']
    for split in ('train', 'val', 'test'):
        loader = f'{split}_dataloader'
        options += [f'{loader}.dataset.data_root={root}', f'{loader}.num_workers=0',
                    f'{loader}.persistent_workers=False']
        pipeline = cfg[loader].dataset.pipeline
        resize = [i for i, step in enumerate(pipeline) if step['type'] == 'Resize'][0]
        options.append(f'{loader}.dataset.pipeline.{resize}.scale=({SIZE},{SIZE})')
    for evaluator in ('val_evaluator', 'test_evaluator'):
        options += [f'{evaluator}.ann_file={root}/annotations/panoptic_val.json',
                    f'{evaluator}.seg_prefix={root}/annotations/panoptic_val/']
    return options


def run_tool(args: List[str]) -> str:
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '2'))
    proc = subprocess.run([sys.executable] + args, cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    return output


@pytest.fixture(scope='module')
def data_root(tmp_path_factory) -> Path:
    """The tiny generated set."""
    root = tmp_path_factory.mktemp('main_job') / 'synthetic'
    generate_synthetic_panoptic(str(root), num_train=8, num_val=NUM_VAL, size=SIZE, seed=1)
    return root


@pytest.fixture(scope='module')
def trained(data_root):
    """Train for a few iterations; returns (work dir, cfg-options, train output)."""
    options = shrink_options(data_root)
    work_dir = data_root.parent / 'work'
    output = run_tool(['tools/train.py', CONFIG, '--work-dir', str(work_dir), '--cfg-options'] +
                      options)
    return work_dir, options, output


def test_train_writes_checkpoint_and_logs_losses(trained):
    work_dir, _, output = trained
    checkpoint = load_main_job().last_checkpoint(str(work_dir))
    assert osp.isfile(checkpoint)
    assert osp.basename(checkpoint) == f'iter_{MAX_ITERS}.pth'
    assert 'eta:' in output
    for name in ('loss_center', 'loss_region', 'loss_thing_mask', 'loss_stuff_mask'):
        assert name in output
    # Validation ran at the end of training.
    assert 'Iter(val)' in output and 'coco_panoptic/PQ' in output


def test_test_reports_pq_and_draws_overlays(trained):
    work_dir, options, _ = trained
    main_job = load_main_job()
    checkpoint = main_job.last_checkpoint(str(work_dir))
    test_dir = work_dir / 'test'
    output = run_tool(['tools/test.py', CONFIG, checkpoint, '--work-dir', str(test_dir),
                       '--show-dir', 'vis', '--cfg-options'] + options)
    # MMDet's table: a row each for All, Things and Stuff.
    for row in ('All', 'Things', 'Stuff'):
        assert f'| {row}' in output
    metrics = main_job.newest_metrics(str(test_dir))
    assert all(0 <= metrics[key] <= 100 for key in PQ_KEYS), metrics
    assert [line.split()[0] for line in main_job.pq_rows(metrics)[1:]] == [
        'All', 'Things', 'Stuff', 'small', 'medium', 'large']
    assert metrics['coco_panoptic/num_gt_small'] + metrics['coco_panoptic/num_gt_medium'] + \
        metrics['coco_panoptic/num_gt_large'] > 0

    pngs = glob.glob(str(test_dir / '*' / 'vis' / '*.png'))
    assert len(pngs) == NUM_VAL
    for png in pngs:
        assert Image.open(png).size == (2 * SIZE, SIZE)  # ground truth | prediction


def overlay_config(options: List[str]) -> Config:
    """The main job's config reading the tiny generated data set."""
    cfg = Config.fromfile(str(REPO_ROOT / CONFIG))
    cfg.merge_from_dict(dict(option.split('=', 1) for option in options if 'dataset.data_root' in option))
    return cfg


def draw_trained_overlays(trained, cfg: Config, tmp_path: Path, num_images: int) -> List[str]:
    main_job = load_main_job()
    return main_job.draw_overlays(cfg, main_job.last_checkpoint(str(trained[0])),
                                  str(tmp_path / 'overlays'), num_images=num_images)


def test_main_job_draws_overlays(trained, tmp_path):
    cfg = overlay_config(trained[1])
    paths = draw_trained_overlays(trained, cfg, tmp_path, num_images=2)
    assert len(paths) == 2
    for path in paths:
        assert Image.open(path).size == (2 * SIZE, SIZE)


def test_main_job_draws_overlays_of_empty_predictions(trained, tmp_path):
    """Score thresholds no candidate can pass leave every pixel void; the
    prediction half of the overlay is then the bare image."""
    cfg = overlay_config(trained[1])
    cfg.model.test_cfg.thing_score_thr = 1.0
    cfg.model.test_cfg.stuff_score_thr = 1.0
    paths = draw_trained_overlays(trained, cfg, tmp_path, num_images=1)
    drawn = np.asarray(Image.open(paths[0]).convert('RGB'))
    image_path = osp.join(cfg.test_dataloader.dataset.data_root, 'val', osp.basename(paths[0]))
    image = np.asarray(Image.open(image_path).convert('RGB'))
    assert drawn.shape == (SIZE, 2 * SIZE, 3)
    assert np.abs(drawn[:, SIZE:].astype(int) - image).max() <= 1
    assert np.abs(drawn[:, :SIZE].astype(int) - image).max() > 50


def test_thing_crop_pretraining_feeds_the_detector(data_root, tmp_path):
    """The main job's pretrain stage: the classifier config trains on the
    tiny set's thing crops through tools/train.py and reports its crop
    accuracy; the thing-crops detector config then starts from its backbone."""
    pretrain_dir = tmp_path / 'pretrain'
    loaders = [f'{split}_dataloader' for split in ('train', 'val', 'test')]
    output = run_tool(
        ['tools/train.py', PRETRAIN_CONFIG, '--work-dir', str(pretrain_dir), '--cfg-options',
         'train_cfg.max_iters=4', 'train_cfg.val_interval=4', 'default_hooks.logger.interval=1',
         'default_hooks.checkpoint.interval=4', 'train_dataloader.batch_size=4'] +
        [f'{loader}.{key}' for loader in loaders for key in (
            f'dataset.data_root={data_root}', 'num_workers=0', 'persistent_workers=False')])
    assert 'loss_cls' in output and 'eta:' in output
    assert 'crop/accuracy' in output and 'crop/accuracy_circle' in output
    checkpoint = pretrain_dir / 'iter_4.pth'
    assert checkpoint.is_file()

    output = run_tool(
        ['tools/train.py', PRETRAINED_CONFIG, '--work-dir', str(tmp_path / 'detector'),
         '--cfg-options', *shrink_options(data_root), 'train_cfg.max_iters=1',
         'train_cfg.val_interval=1', 'default_hooks.checkpoint.interval=1',
         f'model.backbone.init_cfg.checkpoint={checkpoint}'])
    assert f'from path: {checkpoint}' in output
    assert 'loss_center' in output
