"""RandomCropWithInstance: every crop holds the box centre of an object."""
import numpy as np
import pytest
from mmdet.structures.bbox import HorizontalBoxes

from mmpfcn.datasets import RandomCropWithInstance


def sample(boxes, ignore=None, size=(200, 400)) -> dict:
    """An image of ``size`` (h, w) whose pixels are their own column index,
    so that a crop's first column is its x offset."""
    h, w = size
    img = np.tile(np.arange(w, dtype=np.float32)[None, :, None], (h, 1, 3))
    rows = np.tile(np.arange(h, dtype=np.float32)[:, None], (1, w))
    img[..., 1] = rows
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    return dict(img=img, img_shape=size, gt_bboxes=HorizontalBoxes(boxes),
                gt_bboxes_labels=np.zeros(len(boxes), np.int64),
                gt_ignore_flags=np.asarray(ignore if ignore is not None
                                           else [False] * len(boxes)))


@pytest.mark.parametrize('seed', range(20))
def test_the_crop_holds_an_object_centre(seed):
    np.random.seed(seed)
    boxes = [[10, 10, 30, 40], [350, 150, 390, 190]]  # centres (20, 25), (370, 170)
    crop = RandomCropWithInstance(crop_size=(64, 48), allow_negative_crop=True)
    out = crop.transform(sample(boxes))
    x0, y0 = int(out['img'][0, 0, 0]), int(out['img'][0, 0, 1])
    assert out['img'].shape[:2] == (48, 64)
    held = [x0 <= cx < x0 + 64 and y0 <= cy < y0 + 48 for cx, cy in ((20, 25), (370, 170))]
    assert any(held)


def test_ignored_objects_do_not_anchor_the_crop():
    np.random.seed(0)
    crop = RandomCropWithInstance(crop_size=(64, 48), allow_negative_crop=True)
    for _ in range(10):
        out = crop.transform(sample([[10, 10, 30, 40], [350, 150, 390, 190]],
                                    ignore=[True, False]))
        x0, y0 = int(out['img'][0, 0, 0]), int(out['img'][0, 0, 1])
        assert x0 <= 370 < x0 + 64 and y0 <= 170 < y0 + 48


def test_without_objects_it_crops_anywhere_as_random_crop():
    np.random.seed(0)
    crop = RandomCropWithInstance(crop_size=(64, 48), allow_negative_crop=True)
    offsets = {int(crop.transform(sample(np.zeros((0, 4))))['img'][0, 0, 0]) for _ in range(20)}
    assert len(offsets) > 5 and max(offsets) <= 400 - 64


def test_a_crop_larger_than_the_image_keeps_it_whole():
    np.random.seed(0)
    crop = RandomCropWithInstance(crop_size=(1024, 512), allow_negative_crop=True)
    out = crop.transform(sample([[10, 10, 30, 40]], size=(100, 300)))
    assert out['img'].shape[:2] == (100, 300)
