"""PanopticVisualizer draws panoptic maps MMDet's DetLocalVisualizer cannot."""
import itertools

import numpy as np
import pytest
from mmdet.registry import VISUALIZERS
from mmdet.structures import DetDataSample
from mmdet.visualization import DetLocalVisualizer
from mmengine.structures import InstanceData, PixelData

import mmpfcn  # noqa: F401  (registers PanopticVisualizer)
from mmpfcn.visualization.panoptic_visualizer import fit_classes

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


def test_fit_classes_names_extra_labels_and_extends_the_palette():
    palette = [(255, 0, 0), (0, 255, 0)]
    names, fitted = fit_classes(CLASSES, palette, 5)
    assert names == list(CLASSES) + ['class 3', 'class 4']
    assert fitted[:2] == palette and len(fitted) == 5
    assert len(set(map(tuple, fitted))) == 5
    # Named and random palettes become lists as long as the names.
    assert len(fit_classes(CLASSES, 'coco', 200)[1]) == 200
    assert len(fit_classes(CLASSES, 'random', 7)[1]) == 7


def test_labels_beyond_the_classes_and_a_short_palette_are_drawn(
        visualizer, monkeypatch):
    """What DetInferencer gives it at random weights: COCO's class names or
    a config's own, a palette shorter than the model's labels."""
    pan = np.full((H, W), len(CLASSES), dtype=np.int64)
    pan[2:12, 2:14] = 1 + 1000
    pan[14:, :] = 95  # a stuff label beyond the three classes
    sem = np.where(pan == len(CLASSES), 255, pan % 1000)
    sample = DetDataSample(
        pred_panoptic_seg=PixelData(sem_seg=pan[None]),
        pred_sem_seg=PixelData(sem_seg=sem[None]),
        pred_instances=InstanceData(
            labels=np.array([1, 40]),
            scores=np.array([0.9, 0.8]),
            bboxes=np.array([[2., 2., 14., 12.], [20., 2., 30., 10.]]),
            masks=np.stack([pan == 1001, np.zeros_like(pan, bool)])))
    texts = []
    draw_texts = visualizer.draw_texts

    def record_texts(text, *args, **kwargs):
        texts.append(text)
        return draw_texts(text, *args, **kwargs)

    monkeypatch.setattr(visualizer, 'draw_texts', record_texts)
    visualizer.dataset_meta = dict(classes=CLASSES, palette=[(255, 0, 0)])
    image = np.full((H, W, 3), 100, dtype=np.uint8)
    visualizer.add_datasample('x', image, data_sample=sample, draw_gt=False)
    assert (visualizer.get_image()[20, 10] != 100).any()
    assert 'class 95' in texts and 'square' in texts
    assert any(text.startswith('class 40') for text in texts)
    mmdet = DetLocalVisualizer(name=f'det_vis_{next(_names)}')
    mmdet.dataset_meta = visualizer.dataset_meta
    with pytest.raises(AssertionError, match='length of palette'):
        mmdet.add_datasample('x', image, data_sample=sample, draw_gt=False)
