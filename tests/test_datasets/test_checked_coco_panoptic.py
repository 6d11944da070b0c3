"""CheckedCocoPanopticDataset builds MMDetection's plain loaders as the
checked ones and records the category id of each label."""
import os.path as osp

import pytest
from mmcv.transforms import LoadImageFromFile
from mmdet.registry import DATASETS
from mmengine.registry import init_default_scope

import mmpfcn  # noqa: F401  (registers the dataset and transforms)
from mmpfcn.datasets import (BadDataError, LoadCheckedImageFromFile,
                             LoadCheckedPanopticAnnotations)
from mmpfcn.datasets.checked_coco_panoptic import with_checked_loaders
from projects.synthetic.synthetic_panoptic import (SYNTHETIC_METAINFO,
                                                   generate_synthetic_panoptic)


@pytest.fixture(scope='module')
def data_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('data') / 'synthetic')
    generate_synthetic_panoptic(root, num_train=2, num_val=1, size=64)
    return root


def build(data_root: str, pipeline: list):
    init_default_scope('mmdet')
    return DATASETS.build(
        dict(
            type='CheckedCocoPanopticDataset',
            data_root=data_root,
            ann_file='annotations/panoptic_train.json',
            data_prefix=dict(img='train/', seg='annotations/panoptic_train/'),
            metainfo=SYNTHETIC_METAINFO,
            pipeline=pipeline))


PLAIN = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadPanopticAnnotations', with_seg=False),
]
CHECKED = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadCheckedPanopticAnnotations', with_seg=False),
]


@pytest.mark.parametrize('pipeline', [PLAIN, CHECKED], ids=['plain', 'checked'])
def test_pipeline_loads_with_the_checked_transforms(data_root, pipeline):
    dataset = build(data_root, pipeline)
    image, panoptic = dataset.pipeline.transforms
    assert type(image) is LoadCheckedImageFromFile
    assert type(panoptic) is LoadCheckedPanopticAnnotations
    assert not panoptic.with_seg  # the step's own arguments are kept
    assert dataset[0]['img'].shape == (64, 64, 3)


def test_corrupt_image_under_a_plain_loader_names_the_file(data_root):
    path = osp.join(data_root, 'train', '000002.png')
    with open(path, 'wb') as f:
        f.write(b'not a png')
    dataset = build(data_root, PLAIN)
    with pytest.raises(BadDataError, match=f'Cannot decode image {path} '):
        dataset[1]


def test_scoped_names_and_classes_are_upgraded_others_kept():
    resize = dict(type='Resize', scale=(8, 8))
    upgraded = with_checked_loaders([
        dict(type='mmcv.LoadImageFromFile', to_float32=True),
        dict(type=LoadImageFromFile), resize
    ])
    assert upgraded == [
        dict(type=LoadCheckedImageFromFile, to_float32=True),
        dict(type=LoadCheckedImageFromFile), resize
    ]


def test_metainfo_has_the_category_id_of_each_label(data_root):
    dataset = build(data_root, PLAIN)
    assert dataset.metainfo['category_ids'] == tuple(range(1, 11))
    assert dataset.metainfo['category_ids'] == tuple(dataset.cat_ids)
    assert SYNTHETIC_METAINFO['category_ids'] == tuple(range(1, 11))
