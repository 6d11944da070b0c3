"""Mapillary Vistas v1.2 panoptic on a tiny set in its layout, with its
things and stuff interleaved by category id: labels by name through the real
pipelines, and mmpfcn's metric against panopticapi's own pq_compute."""
import os.path as osp

import numpy as np
import pytest
from mmdet.registry import DATASETS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from panopticapi.evaluation import pq_compute

import mmpfcn  # noqa: F401  (registers the dataset, transform and metric)
from mmpfcn.datasets import MapillaryVistasPanopticDataset
from panoptic_trees import (as_metric_keys, assert_same_figures,
                            ground_truth_predictions, make_mapillary_tree,
                            metric_scores)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO_ROOT, 'configs', 'panoptic_fcn',
                  'panoptic-fcn_r50_fpn_8xb4-150k_mapillary-v1.2-1024x1024.py')
META = MapillaryVistasPanopticDataset.METAINFO
# Category ids by alphabetical name: things and stuff interleave, as in the
# real file (whose ids follow Mapillary's label order).
CATEGORIES = [
    dict(id=i + 1, name=name, isthing=int(name in META['thing_classes']),
         supercategory='mapillary')
    for i, name in enumerate(sorted(META['classes']))]
COUNT = 3


@pytest.fixture(scope='module')
def mapillary_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('mapillary'))
    for split in ('training', 'validation'):
        make_mapillary_tree(root, split, COUNT, CATEGORIES, seed=len(split))
    return root


def build_dataset(root: str, split: str, pipeline):
    init_default_scope('mmdet')
    cfg = Config.fromfile(CONFIG)
    loader = cfg.train_dataloader if split == 'training' else cfg.val_dataloader
    return DATASETS.build(dict(loader.dataset, data_root=root, pipeline=pipeline))


def test_metainfo_is_v1_2():
    assert len(META['thing_classes']) == 37
    assert len(META['stuff_classes']) == 28
    assert len(set(META['classes'])) == 65 == len(META['palette'])
    cfg = Config.fromfile(CONFIG)
    assert cfg.model.num_things_classes == 37
    assert cfg.model.num_stuff_classes == 28


def test_labels_by_name_through_the_real_pipelines(mapillary_root):
    cfg = Config.fromfile(CONFIG)
    val = build_dataset(mapillary_root, 'validation', cfg.test_pipeline)
    classes = val.metainfo['classes']
    by_id = {cat['id']: cat['name'] for cat in CATEGORIES}
    assert [by_id[i] for i in val.metainfo['category_ids']] == list(classes)
    car = classes.index('Car')
    assert car < 37 and classes.index('Road') >= 37
    sample = val[0]
    assert tuple(sample['inputs'].shape[1:]) == (1536, 2048)  # long side 2048
    train = build_dataset(mapillary_root, 'training', cfg.train_pipeline)
    sample = train[0]
    assert tuple(sample['inputs'].shape) == (3, 1024, 1024)
    labels = set(sample['data_samples'].gt_instances.labels.tolist())
    assert labels and labels <= {classes.index(n) for n in ('Person', 'Car', 'Truck')}
    semantic = set(np.unique(sample['data_samples'].gt_sem_seg.sem_seg.numpy()).tolist())
    assert semantic - {255} <= {classes.index(n) for n in (
        'Sky', 'Building', 'Road', 'Sidewalk', 'Vegetation', 'Person', 'Car', 'Truck')}


@pytest.mark.parametrize('perturb', [False, True], ids=['ground-truth', 'perturbed'])
def test_metric_equals_panopticapi(mapillary_root, tmp_path, perturb):
    cfg = Config.fromfile(CONFIG)
    dataset = build_dataset(mapillary_root, 'validation', cfg.test_pipeline)
    ann_file = osp.join(mapillary_root, 'validation', 'panoptic', 'panoptic_2018.json')
    seg_prefix = osp.join(mapillary_root, 'validation', 'panoptic')
    samples = ground_truth_predictions(dataset, perturb, ('Sky', 'Building'))
    scores = metric_scores(ann_file, seg_prefix, dataset, samples, str(tmp_path))
    reference = as_metric_keys(pq_compute(
        ann_file, str(tmp_path / 'results.panoptic.json'), seg_prefix,
        str(tmp_path / 'results.panoptic')))
    assert_same_figures(scores, reference, perturb)
