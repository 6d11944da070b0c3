"""PanopticVisualizer draws panoptic maps MMDet's DetLocalVisualizer cannot."""
import itertools

import numpy as np
import pytest
from mmdet.registry import VISUALIZERS
from mmdet.structures import DetDataSample
from mmdet.visualization import DetLocalVisualizer
from mmengine.structures import PixelData

import mmpfcn  # noqa: F401  (registers PanopticVisualizer)

CLASSES = ('circle', 'square', 'stripes')
H, W = 24, 32
_names = itertools.count()  # visualizers are named singletons


def sample_with(pan: np.ndarray) -> DetDataSample:
    return DetDataSample(pred_panoptic_seg=PixelData(sem_seg=pan[None]))


def draw(visualizer, pan: np.ndarray) -> np.ndarray:
    visualizer.dataset_meta = dict(classes=CLASSES, palette=[(255, 0, 0), (0, 255, 0), (0, 0, 255)])
    image = np.full((H, W, 3), 100, dtype=np.uint8)
    visualizer.add_datasample('x', image, data_sample=sample_with(pan), draw_gt=False)
    return visualizer.get_image()


@pytest.fixture
def visualizer():
    return VISUALIZERS.build(dict(type='PanopticVisualizer', name=f'panoptic_vis_{next(_names)}'))


def test_all_void_map_draws_the_bare_image(visualizer):
    void = np.full((H, W), len(CLASSES), dtype=np.int64)
    assert (draw(visualizer, void) == 100).all()
    with pytest.raises(ValueError, match='need at least one array'):
        draw(DetLocalVisualizer(name=f'det_vis_{next(_names)}'), void)


def test_segments_are_drawn_as_mmdet_draws_them(visualizer):
    pan = np.full((H, W), len(CLASSES), dtype=np.int64)
    pan[4:16, 4:20] = 1 + 1000  # square, instance 1
    pan[18:, :] = 2  # stripes
    ours = draw(visualizer, pan)
    mmdet = draw(DetLocalVisualizer(name=f'det_vis_{next(_names)}'), pan)
    np.testing.assert_array_equal(ours, mmdet)
    assert (ours[8, 10] != 100).any() and (ours[1, 1] == 100).all()
