"""Cityscapes panoptic end to end on a tiny tree in the official layout:
cityscapesscripts' converter (through tools/dataset_converters/cityscapes.py),
the dataset through the real pipelines, MMDetection's panoptic metric
against cityscapesscripts' own evaluation, and tools/train.py + tools/test.py."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from cityscapesscripts.evaluation.evalPanopticSemanticLabeling import \
    evaluatePanoptic
from mmdet.registry import DATASETS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from panopticapi.utils import rgb2id
from PIL import Image

import mmpfcn  # noqa: F401  (registers the dataset, transform and metric)
from panoptic_trees import (BUILDING, CAR, PERSON, ROAD, SIDEWALK, SKY, TRUCK,
                            VEGETATION, as_metric_keys, assert_same_figures,
                            ground_truth_predictions, make_cityscapes_tree,
                            metric_scores)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO_ROOT, 'configs', 'panoptic_fcn',
                  'panoptic-fcn_r50_fpn_8xb4-65k_cityscapes-512x1024.py')
TINY_CONFIG = osp.join(REPO_ROOT, 'tests', 'data', 'configs',
                       'tiny_panoptic_fcn_cityscapes.py')
SPLITS = dict(train=2, val=3)
NAMES = {ROAD: 'road', SIDEWALK: 'sidewalk', BUILDING: 'building', VEGETATION: 'vegetation',
         SKY: 'sky', PERSON: 'person', CAR: 'car', TRUCK: 'truck'}
RELABEL = ('sky', 'building')


@pytest.fixture(scope='module')
def cityscapes_root(tmp_path_factory) -> str:
    """A tiny Cityscapes tree converted by the preparation command."""
    root = str(tmp_path_factory.mktemp('cityscapes'))
    make_cityscapes_tree(root, SPLITS)
    proc = subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'tools', 'dataset_converters', 'cityscapes.py'),
         root], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


def build_dataset(root: str, split: str, pipeline) -> object:
    init_default_scope('mmdet')
    cfg = Config.fromfile(CONFIG)
    loader = cfg.train_dataloader if split == 'train' else cfg.val_dataloader
    return DATASETS.build(dict(loader.dataset, data_root=root, pipeline=pipeline))


def test_preparation_writes_the_official_converter_output(cityscapes_root):
    for split, count in SPLITS.items():
        with open(osp.join(cityscapes_root, 'gtFine', f'cityscapes_panoptic_{split}.json')) as f:
            converted = json.load(f)
        assert len(converted['annotations']) == count
        # Label ids, stuff first, as cityscapesscripts writes them.
        assert [c['id'] for c in converted['categories']][:3] == [7, 8, 11]
        assert len(converted['categories']) == 19
        for ann in converted['annotations']:
            assert osp.isfile(osp.join(cityscapes_root, 'gtFine', f'cityscapes_panoptic_{split}',
                                       ann['file_name']))


def test_labels_follow_the_class_names_not_the_file_order(cityscapes_root):
    cfg = Config.fromfile(CONFIG)
    dataset = build_dataset(cityscapes_root, 'val', cfg.test_pipeline)
    classes = dataset.metainfo['classes']
    assert len(dataset) == SPLITS['val']
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        image_id = info['img_id']
        city = image_id.split('_')[0]
        assert info['img_path'] == osp.join(cityscapes_root, 'leftImg8bit', 'val', city,
                                            f'{image_id}_leftImg8bit.png')
        assert info['seg_map_path'].endswith(f'{image_id}_gtFine_panoptic.png')
        instance_ids = np.array(Image.open(osp.join(
            cityscapes_root, 'gtFine', 'val', city, f'{image_id}_gtFine_instanceIds.png')))
        pan = rgb2id(np.array(Image.open(info['seg_map_path'])))
        for segment in info['segments_info']:
            (label_id, ) = np.unique(np.where(instance_ids >= 1000, instance_ids // 1000,
                                              instance_ids)[pan == segment['id']])
            assert classes[segment['category']] == NAMES[label_id]
            crowd = label_id in (PERSON, CAR, TRUCK) and segment['id'] < 1000
            assert segment['is_thing'] == (label_id in (PERSON, CAR, TRUCK) and not crowd)
    assert dataset.metainfo['category_ids'][:3] == (24, 25, 26)  # person, rider, car


def test_real_pipelines_load_the_tree(cityscapes_root):
    cfg = Config.fromfile(CONFIG)
    train = build_dataset(cityscapes_root, 'train', cfg.train_pipeline)
    sample = train[0]
    # Scaled to a short side of 512-2048 and cropped to 512x1024 around an object.
    assert tuple(sample['inputs'].shape) == (3, 512, 1024)
    sample_data = sample['data_samples']
    assert len(sample_data.gt_instances) >= 1
    assert set(sample_data.gt_instances.labels.tolist()) <= {0, 2, 3}
    val = build_dataset(cityscapes_root, 'val', cfg.test_pipeline)
    sample = val[0]
    assert tuple(sample['inputs'].shape) == (3, 1024, 2048)
    assert sample['data_samples'].ori_shape == (64, 128)


def mmdet_and_cityscapes_scores(root: str, samples, dataset, out_dir: str):
    """mmpfcn's metric three ways (:func:`metric_scores`) and cityscapesscripts'
    evaluation of the submission it wrote."""
    gt_json = osp.join(root, 'gtFine', 'cityscapes_panoptic_val.json')
    gt_folder = osp.join(root, 'gtFine', 'cityscapes_panoptic_val')
    scores = metric_scores(gt_json, gt_folder, dataset, samples, out_dir)
    scores['cityscapes'] = as_metric_keys(evaluatePanoptic(
        gt_json, gt_folder, osp.join(out_dir, 'results.panoptic.json'),
        osp.join(out_dir, 'results.panoptic'), osp.join(out_dir, 'cityscapes_results.json')))
    return scores


@pytest.mark.parametrize('perturb', [False, True], ids=['ground-truth', 'perturbed'])
def test_mmdet_metric_equals_cityscapes_evaluation(cityscapes_root, tmp_path, perturb):
    cfg = Config.fromfile(CONFIG)
    dataset = build_dataset(cityscapes_root, 'val', cfg.test_pipeline)
    scores = mmdet_and_cityscapes_scores(cityscapes_root,
                                         ground_truth_predictions(dataset, perturb, RELABEL),
                                         dataset, str(tmp_path))
    assert_same_figures(scores, scores.pop('cityscapes'), perturb)


def test_train_and_test_tools_on_the_tree(cityscapes_root, tmp_path):
    env = dict(__import__('os').environ, MMPFCN_TEST_DATA=cityscapes_root, OMP_NUM_THREADS='1',
               PYTHONPATH=REPO_ROOT)
    work_dir = str(tmp_path / 'work')

    def run(tool: str, *args: str) -> str:
        proc = subprocess.run([sys.executable, osp.join(REPO_ROOT, 'tools', tool), *args],
                              cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc.stdout + proc.stderr

    run('train.py', TINY_CONFIG, '--work-dir', work_dir)
    checkpoint = osp.join(work_dir, 'iter_4.pth')
    assert osp.isfile(checkpoint)
    log = run('test.py', TINY_CONFIG, checkpoint, '--work-dir', work_dir)
    assert 'coco_panoptic/PQ:' in log
    assert 'Panoptic Evaluation Results by size' in log
