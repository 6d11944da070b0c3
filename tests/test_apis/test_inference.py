"""MMDetection's older API, ``init_detector`` and ``inference_detector``,
with a COCO and the synthetic config, on a path and on an array."""
import os.path as osp

import cv2
import pytest
import torch
from mmdet.apis import inference_detector, init_detector

from .conftest import H, W

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = [
    osp.join(ROOT, 'configs', 'panoptic_fcn',
             'panoptic-fcn_r50_fpn_8xb2-ms-1x_coco.py'),
    osp.join(ROOT, 'projects', 'synthetic', 'configs',
             'panoptic-fcn_r18_fpn_synthetic.py'),
]


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_path_and_array_give_the_same_prediction(path, image, small_config,
                                                 tmp_path):
    model = init_detector(small_config(path), checkpoint=None, device='cpu')
    file = str(tmp_path / 'image.png')
    cv2.imwrite(file, image)
    from_file = inference_detector(model, file)
    from_array = inference_detector(model, image)
    assert from_file.pred_panoptic_seg.sem_seg.shape == (1, H, W)
    assert torch.equal(from_file.pred_panoptic_seg.sem_seg,
                       from_array.pred_panoptic_seg.sem_seg)
