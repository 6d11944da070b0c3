"""The synthetic panoptic generator: determinism, exact COCO panoptic format,
difficulty (colour carries no class, scales, special images) and that MMDet's
dataset, pipeline and metric read it unchanged."""
import json
import os.path as osp
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import torch
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.registry import DATASETS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from panopticapi.utils import rgb2id
from PIL import Image

import mmpfcn  # noqa: F401  (registers mmpfcn's components)
from projects.synthetic.synthetic_panoptic import (NUM_STUFF_CLASSES,
                                                   NUM_THING_CLASSES,
                                                   SYNTHETIC_CLASSES,
                                                   SYNTHETIC_METAINFO,
                                                   generate_synthetic_panoptic)

REPO_ROOT = Path(__file__).resolve().parents[3]
BASE_CONFIG = REPO_ROOT / 'projects' / 'synthetic' / 'configs' / '_base_' / \
    'datasets' / 'synthetic_panoptic.py'
SIZE = 128
NUM_TRAIN, NUM_VAL = 60, 6
FPN_RANGES = ((1, 64), (32, 128), (64, 256), (128, 512), (256, 2048))


@pytest.fixture(scope='module')
def data_root(tmp_path_factory) -> Path:
    """A small generated dataset shared by the read-only tests."""
    root = tmp_path_factory.mktemp('synthetic')
    generate_synthetic_panoptic(
        str(root), num_train=NUM_TRAIN, num_val=NUM_VAL, size=SIZE, seed=3)
    return root


def load_split(root: Path, split: str) -> dict:
    with open(root / 'annotations' / f'panoptic_{split}.json') as f:
        return json.load(f)


def panoptic_ids(root: Path, split: str, file_name: str) -> np.ndarray:
    png = Image.open(root / 'annotations' / f'panoptic_{split}' / file_name)
    return rgb2id(np.asarray(png.convert('RGB')))


@pytest.fixture(scope='module')
def thing_segments(data_root) -> List[dict]:
    """Thing segments of the train split with their visible mean colour."""
    data = load_split(data_root, 'train')
    thing_ids = {cat['id'] for cat in data['categories'] if cat['isthing']}
    things = []
    for ann in data['annotations']:
        ids = panoptic_ids(data_root, 'train', ann['file_name'])
        image = np.asarray(Image.open(data_root / 'train' / ann['file_name']))
        for seg in ann['segments_info']:
            if seg['category_id'] in thing_ids:
                mask = ids == seg['id']
                things.append(
                    dict(seg, mean_rgb=image[mask].mean(0).astype(float)))
    return things


def files_of(root: Path) -> Dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob('*')) if path.is_file()
    }


def test_deterministic(tmp_path):
    """Same seed: byte-identical files, also when two processes render them;
    another seed: different files."""
    kwargs = dict(num_train=3, num_val=2, size=64)
    for name, seed, workers in (('a', 7, 1), ('b', 7, 2), ('c', 8, 1)):
        assert generate_synthetic_panoptic(
            str(tmp_path / name), seed=seed, workers=workers, **kwargs)
    first, second = files_of(tmp_path / 'a'), files_of(tmp_path / 'b')
    # meta.json, two json files, an image and a panoptic PNG per image.
    assert len(first) == 1 + 2 + 2 * (3 + 2) and first == second
    other = files_of(tmp_path / 'c')
    assert other.keys() == first.keys()
    assert other['train/000001.png'] != first['train/000001.png']
    assert other['annotations/panoptic_val.json'] != \
        first['annotations/panoptic_val.json']


def test_skips_complete_output(tmp_path):
    """A complete output is kept unless forced or the parameters change."""
    kwargs = dict(num_train=2, num_val=1, size=64, seed=0)
    assert generate_synthetic_panoptic(str(tmp_path), **kwargs)
    assert not generate_synthetic_panoptic(str(tmp_path), **kwargs)
    assert generate_synthetic_panoptic(str(tmp_path), force=True, **kwargs)
    (tmp_path / 'val' / '000001.png').unlink()
    assert generate_synthetic_panoptic(str(tmp_path), **kwargs)
    assert generate_synthetic_panoptic(str(tmp_path), **dict(kwargs, seed=1))


@pytest.mark.parametrize('split', ['train', 'val'])
def test_valid_coco_panoptic(data_root, split):
    """Segments, areas, bboxes, categories and sizes match the PNGs."""
    data = load_split(data_root, split)
    cats = {cat['id']: cat for cat in data['categories']}
    assert [cat['name'] for cat in data['categories']] == \
        list(SYNTHETIC_CLASSES)
    assert all(
        cat['isthing'] == (cat['name'] in SYNTHETIC_METAINFO['thing_classes'])
        for cat in cats.values())
    images = {img['id']: img for img in data['images']}
    assert len(images) == len(data['annotations']) == \
        (NUM_TRAIN if split == 'train' else NUM_VAL)
    seen_ids = set()
    for ann in data['annotations']:
        img = images[ann['image_id']]
        assert ann['file_name'] == img['file_name']
        rgb = Image.open(data_root / split / img['file_name'])
        assert rgb.mode == 'RGB'
        assert rgb.size == (img['width'], img['height']) == (SIZE, SIZE)
        ids = panoptic_ids(data_root, split, ann['file_name'])
        assert ids.shape == (img['height'], img['width'])
        segs = ann['segments_info']
        # Every pixel belongs to a listed segment: no void, no extra ids.
        assert sorted(np.unique(ids).tolist()) == sorted(s['id'] for s in segs)
        for seg in segs:
            mask = ids == seg['id']
            ys, xs = np.nonzero(mask)
            assert seg['area'] == mask.sum()
            assert seg['bbox'] == [
                xs.min(),
                ys.min(),
                xs.max() - xs.min() + 1,
                ys.max() - ys.min() + 1
            ]
            assert seg['category_id'] in cats and seg['iscrowd'] == 0
            assert seg['id'] not in seen_ids
            seen_ids.add(seg['id'])
        stuff = [s for s in segs if not cats[s['category_id']]['isthing']]
        assert len({s['category_id'] for s in stuff}) == len(stuff) >= 1


def test_colour_does_not_give_thing_class(thing_segments):
    """A nearest-centroid classifier on mean RGB stays near chance, even
    scored on the segments it was fitted to."""
    things = thing_segments
    labels = np.array([t['category_id'] for t in things])
    colours = np.stack([t['mean_rgb'] for t in things])
    present = np.unique(labels)
    assert len(things) >= 200 and len(present) == NUM_THING_CLASSES
    centroids = np.stack([colours[labels == c].mean(0) for c in present])
    dist = ((colours[:, None] - centroids[None])**2).sum(-1)
    accuracy = (present[dist.argmin(1)] == labels).mean()
    assert accuracy < 1 / NUM_THING_CLASSES + 0.15


def test_scales_and_special_images(data_root, thing_segments):
    """Thing sizes span >= 3 FPN ranges; some images have no things, some
    exactly one stuff class; images hold several things on average."""
    scales = np.sqrt([t['bbox'][2] * t['bbox'][3] for t in thing_segments])
    hit = [((scales >= lo) & (scales <= hi)).any() for lo, hi in FPN_RANGES]
    assert sum(hit) >= 3
    data = load_split(data_root, 'train')
    isthing = {cat['id']: cat['isthing'] for cat in data['categories']}
    counts = []
    for ann in data['annotations']:
        flags = [isthing[s['category_id']] for s in ann['segments_info']]
        counts.append((sum(flags), len(flags) - sum(flags)))
    num_things, num_stuff = np.array(counts).T
    assert (num_things == 0).any() and (num_stuff == 1).any()
    assert num_things.mean() >= 3 and (num_stuff >= 2).any()


def dataset_cfg(data_root: Path, loader: str) -> Config:
    """A dataset config from the base config, pointed at ``data_root``."""
    cfg = Config.fromfile(str(BASE_CONFIG))
    assert cfg.metainfo.to_dict() == SYNTHETIC_METAINFO
    ds_cfg = cfg[loader].dataset
    ds_cfg.data_root = str(data_root)
    for step in ds_cfg.pipeline:
        if step.type == 'Resize':
            step.scale = (SIZE, SIZE)
    return ds_cfg


def test_mmdet_dataset_and_pipeline(data_root):
    """CocoPanopticDataset + the real train pipeline give consistent GT."""
    init_default_scope('mmdet')
    dataset = DATASETS.build(dataset_cfg(data_root, 'train_dataloader'))
    assert len(dataset) == NUM_TRAIN
    assert dataset.metainfo['classes'] == SYNTHETIC_CLASSES
    num_classes = NUM_THING_CLASSES + NUM_STUFF_CLASSES
    for index in (0, 1, 5):
        sample = dataset[index]
        img, data_sample = sample['inputs'], sample['data_samples']
        assert img.shape == (3, SIZE, SIZE)
        gt = data_sample.gt_instances
        masks = torch.as_tensor(gt.masks.to_ndarray()).bool()
        sem = data_sample.gt_sem_seg.sem_seg
        assert sem.shape == (1, SIZE, SIZE)
        assert masks.shape == (len(gt.labels), SIZE, SIZE)
        assert gt.bboxes.shape == (len(gt.labels), 4)
        assert (index == 0) == (len(gt.labels) == 0)
        assert ((gt.labels >= 0) & (gt.labels < NUM_THING_CLASSES)).all()
        for mask, label, box in zip(masks, gt.labels, gt.bboxes.tensor):
            assert (sem[0][mask] == label).all()
            ys, xs = torch.nonzero(mask, as_tuple=True)
            assert box.tolist() == [
                xs.min(), ys.min(),
                xs.max() + 1, ys.max() + 1
            ]
        stuff = sem[0][~masks.any(0)]
        assert ((stuff >= NUM_THING_CLASSES) & (stuff < num_classes)).all()
        assert stuff.numel() > 0 and (sem != 255).all()


def test_metric_scores_gt_as_pq_100(data_root):
    """GT encoded as MMDet panoptic heads encode predictions scores PQ 100."""
    init_default_scope('mmdet')
    dataset = DATASETS.build(dataset_cfg(data_root, 'val_dataloader'))
    cfg = Config.fromfile(str(BASE_CONFIG)).val_evaluator
    cfg.ann_file = osp.join(data_root, 'annotations', 'panoptic_val.json')
    cfg.seg_prefix = osp.join(data_root, 'annotations', 'panoptic_val')
    evaluator = Evaluator(cfg)
    evaluator.dataset_meta = dataset.metainfo
    num_classes = len(dataset.metainfo['classes'])
    for index in range(len(dataset)):
        sample = dataset[index]['data_samples']
        sem = sample.gt_sem_seg.sem_seg.clone().long()
        sem[sem == 255] = num_classes
        for inst, (mask, label) in enumerate(
                zip(sample.gt_instances.masks.to_ndarray(),
                    sample.gt_instances.labels), 1):
            sem[0][torch.from_numpy(mask).bool()] = \
                label + inst * INSTANCE_OFFSET
        pred = DetDataSample(metainfo=sample.metainfo)
        pred.pred_panoptic_seg = PixelData(sem_seg=sem)
        evaluator.process(data_samples=[pred])
    metrics = evaluator.evaluate(len(dataset))
    for key in ('PQ', 'PQ_th', 'PQ_st', 'SQ', 'RQ'):
        assert metrics[f'coco_panoptic/{key}'] == pytest.approx(100.0)
