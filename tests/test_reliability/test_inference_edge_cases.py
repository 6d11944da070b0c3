"""Issue 7.5: inference edge cases. Nothing above threshold gives a valid
all-VOID result; 1x1, 32x4000 and 4000x4000 images work, and masks that
cannot fit in memory give a clear message; testing 500 images in one process
shows no memory growth after warm-up."""
import os.path as osp
import pickle
import re

import cv2
import numpy as np
import pytest
from mmdet.apis import inference_detector, init_detector
from mmdet.evaluation.functional import INSTANCE_OFFSET

from mmpfcn.models.seg_heads.panoptic_fusion_heads import panoptic_fcn_fusion_head
from projects.synthetic.synthetic_panoptic import generate_synthetic_panoptic

from .conftest import CONFIG, DATA_DIR, NUM_VAL, SIZE, run_tool, tiny_config

NUM_CLASSES = 10
RSS_CONFIG = osp.join(DATA_DIR, 'configs', 'tiny_panoptic_fcn_rss_probe.py')


def test_nothing_above_threshold_gives_all_void(generated_root,
                                                random_checkpoint, tmp_path):
    out = str(tmp_path / 'preds.pkl')
    result = run_tool(
        'test.py', CONFIG, random_checkpoint, '--work-dir', str(tmp_path),
        '--out', out, '--cfg-options',
        'model.test_cfg.thing_score_thr=1.0',
        'model.test_cfg.stuff_score_thr=1.0',
        data_root=generated_root, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'coco_panoptic/PQ: 0.0000' in result.stdout
    preds = pickle.load(open(out, 'rb'))
    assert len(preds) == NUM_VAL
    for pred in preds:
        pan = pred['pred_panoptic_seg']['sem_seg']
        assert pan.shape == (1, SIZE, SIZE)
        # VOID is NUM_CLASSES; MMDet's CocoPanopticMetric, which sees the
        # prediction before the --out dump, rewrites it in place to 0.
        assert set(pan.unique().tolist()) <= {0, NUM_CLASSES}
        assert (pred['pred_sem_seg']['sem_seg'] == 255).all()  # MMDet's ignore label
        assert pred['pred_instances']['masks'] == []  # RLE-encoded by --out
        assert pred['pred_instances']['labels'].shape == (0, )
        assert pred['pred_instances']['bboxes'].shape == (0, 4)


@pytest.fixture(scope='module')
def detector(generated_root, random_checkpoint):
    """The tiny model for ``inference_detector``: test pipeline with a
    Resize to 256 as real configs have, at most 4 instances per image."""
    monkeypatch = pytest.MonkeyPatch()
    cfg = tiny_config(generated_root, monkeypatch)
    monkeypatch.undo()
    cfg.test_dataloader.dataset.pipeline.insert(
        1, dict(type='Resize', scale=(256, 256), keep_ratio=True))
    cfg.model.test_cfg.max_per_img = 4
    return init_detector(cfg, random_checkpoint, device='cpu')


def write_image(path: str, height: int, width: int) -> str:
    rng = np.random.default_rng(height * 10007 + width)
    cv2.imwrite(path, rng.integers(0, 256, (height, width, 3), np.uint8))
    return path


@pytest.mark.parametrize('height,width', [(1, 1), (32, 4000), (4000, 4000)])
def test_extreme_image_sizes_work(detector, tmp_path, height, width):
    path = write_image(str(tmp_path / 'image.png'), height, width)
    result = inference_detector(detector, path)
    pan = result.pred_panoptic_seg.sem_seg
    assert pan.shape == (1, height, width)
    labels = pan % INSTANCE_OFFSET
    assert ((labels < NUM_CLASSES) | (pan == NUM_CLASSES)).all()
    assert result.pred_sem_seg.sem_seg.shape == (1, height, width)
    masks = result.pred_instances.masks
    assert masks.shape[1:] == (height, width) and len(masks) <= 4


def test_masks_too_large_for_memory_give_a_clear_message(
        detector, tmp_path, monkeypatch):
    """A small machine: 256 MiB available."""
    monkeypatch.setattr(panoptic_fcn_fusion_head, 'available_memory',
                        lambda device: 256 * 2**20)
    path = write_image(str(tmp_path / 'image.png'), 4000, 4000)
    with pytest.raises(MemoryError) as error:
        inference_detector(detector, path)
    assert re.fullmatch(
        r'PanopticFCNFusionHead: \d+ masks of 4000x4000 pixels need \d+\.\d GiB but '
        r'cpu has 0\.2 GiB available; lower model\.test_cfg\.max_per_img, '
        r'raise model\.test_cfg\.instance_score_thr, or predict with '
        r'rescale=False \(masks at the network input size\)',
        str(error.value))


def test_testing_500_images_shows_no_memory_growth(random_checkpoint,
                                                   tmp_path):
    """Peak RSS of one test process (data loading in it) after 100 and after
    500 images: no growth after warm-up."""
    root = str(tmp_path / 'synthetic500')
    generate_synthetic_panoptic(root, 1, 500, SIZE, seed=1)
    result = run_tool(
        'test.py', RSS_CONFIG, random_checkpoint, '--work-dir',
        str(tmp_path / 'work'), data_root=root, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    peaks = dict(
        (int(n), int(kib)) for n, kib in re.findall(
            r'peak RSS after (\d+) images: (\d+) KiB', result.stdout))
    assert set(peaks) == {100, 500}
    print(f'peak RSS: {peaks[100]} KiB after 100 images, '
          f'{peaks[500]} KiB after 500')
    assert peaks[500] - peaks[100] <= 0.02 * peaks[100]
