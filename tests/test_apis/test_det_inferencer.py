"""MMDetection's ``DetInferencer`` with mmpfcn: every Panoptic FCN config at
random weights, models by metafile name, folders and arrays in batches."""
import glob
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmdet.apis import DetInferencer
from mmdet.datasets import CocoPanopticDataset

from mmpfcn.utils.model_index import UnknownModelError

from .conftest import H, W

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'panoptic_fcn', '*.py')))
CONFIGS += sorted(
    glob.glob(
        osp.join(ROOT, 'projects', 'synthetic', 'configs', '**',
                 'panoptic-fcn*.py'),
        recursive=True))
R50_1X = 'panoptic-fcn_r50_fpn_8xb2-ms-1x_coco'
R50_1X_CONFIG = osp.join(ROOT, 'configs', 'panoptic_fcn', R50_1X + '.py')


def inferencer_for(model, **kwargs) -> DetInferencer:
    return DetInferencer(
        model=model, device='cpu', show_progress=False, **kwargs)


@pytest.fixture(scope='module')
def r50(small_config) -> DetInferencer:
    """The R50 1x model at random weights, on small images."""
    return inferencer_for(small_config(R50_1X_CONFIG), weights=None)


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_every_config_predicts_and_draws_at_random_weights(
        path, image, small_config):
    with pytest.warns(UserWarning, match='weights is None'):
        inferencer = inferencer_for(small_config(path), weights=None)
    result = inferencer(image, return_vis=True, no_save_pred=True)
    prediction, = result['predictions']
    assert prediction['panoptic_seg'].shape == (H, W, 3)  # id2rgb
    drawn, = result['visualization']
    assert drawn.shape == (H, W, 3) and drawn.dtype == np.uint8


@pytest.fixture(scope='module')
def checkpoint(r50, tmp_path_factory) -> str:
    """The R50 model's random weights as an MMDetection checkpoint, with the
    ``dataset_meta`` of a run on COCO panoptic."""
    path = str(tmp_path_factory.mktemp('checkpoint') / 'r50.pth')
    dataset_meta = dict(
        classes=CocoPanopticDataset.METAINFO['classes'],
        category_ids=tuple(range(1, 134)))
    torch.save(
        dict(
            state_dict=r50.model.state_dict(),
            meta=dict(dataset_meta=dataset_meta)), path)
    return path


@pytest.mark.parametrize('name',
                         [R50_1X, 'panoptic-fcn_r50_fpn_1x_coco'])
def test_model_name_or_alias_builds_its_config(name, checkpoint, r50):
    inferencer = inferencer_for(name, weights=checkpoint)
    assert inferencer.cfg.filename == R50_1X_CONFIG
    assert inferencer.model.dataset_meta['category_ids'] == tuple(
        range(1, 134))
    ours = inferencer.model.state_dict()
    for key, value in r50.model.state_dict().items():
        assert torch.equal(ours[key], value), key


def test_other_names_are_looked_up_in_mmdet(r50):
    cfg, weights = r50._load_model_from_metafile('rtmdet_tiny_8xb32-300e_coco')
    assert osp.basename(cfg.filename) == 'rtmdet_tiny_8xb32-300e_coco.py'
    assert weights.startswith('https://')


def test_unknown_model_name_is_a_clear_error():
    with pytest.raises(
            UnknownModelError,
            match="Unknown model 'panoptic-fcn_r50_fpn_9x_coco'.*"
            'closest known names: .*panoptic-fcn_r50_fpn_1x_coco'):
        inferencer_for('panoptic-fcn_r50_fpn_9x_coco')


def test_folder_of_images_in_batches_of_two(r50, image, tmp_path):
    folder = tmp_path / 'images'
    folder.mkdir()
    for name, img in (('a.png', image), ('b.png', image[::-1])):
        cv2.imwrite(str(folder / name), img)
    out_dir = tmp_path / 'out'
    result = r50(
        str(folder), batch_size=2, out_dir=str(out_dir), no_save_pred=False)
    assert len(result['predictions']) == 2
    for name, prediction in zip(('a', 'b'), result['predictions']):
        assert cv2.imread(str(out_dir / 'vis' / f'{name}.png')).shape == (
            H, W, 3)
        assert (out_dir / 'preds' / f'{name}.json').is_file()
        panoptic = cv2.imread(prediction['panoptic_seg_path'])
        assert panoptic.shape == (H, W, 3)


def test_list_of_arrays_in_a_batch_of_two(r50, image):
    result = r50([image, image[::-1].copy()],
                 batch_size=2,
                 return_vis=True,
                 no_save_pred=True)
    assert [p['panoptic_seg'].shape for p in result['predictions']] == [
        (H, W, 3)
    ] * 2
    assert [v.shape for v in result['visualization']] == [(H, W, 3)] * 2
