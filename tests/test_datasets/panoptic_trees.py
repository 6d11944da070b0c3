"""Tiny datasets in the official layouts of Cityscapes and Mapillary Vistas,
drawn from a seed: a few street-like scenes (sky, building, road, ignored
pixels, cars and people, a car crowd) as label and instance id maps; and
predictions made from their ground truth, scored by mmpfcn's metric."""
import copy
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import numpy as np
import pytest
import torch
from mmdet.registry import METRICS
from panopticapi.utils import id2rgb, rgb2id
from PIL import Image

# Cityscapes label ids (cityscapesscripts' labels.py).
UNLABELED, STATIC, ROAD, SIDEWALK, BUILDING, VEGETATION, SKY = 0, 4, 7, 8, 11, 21, 23
PERSON, CAR, TRUCK = 24, 26, 27
THING_LABELS = (PERSON, CAR, TRUCK)
# The figures compared between evaluations (MMDetection's metric keys).
KEYS = ('PQ', 'SQ', 'RQ', 'PQ_th', 'SQ_th', 'RQ_th', 'PQ_st', 'SQ_st', 'RQ_st')
# Colours of the generated images per label, so that a model can learn them.
COLOURS = {UNLABELED: (0, 0, 0), STATIC: (40, 40, 40), ROAD: (128, 64, 128),
           SIDEWALK: (244, 35, 232), BUILDING: (70, 70, 70), VEGETATION: (107, 142, 35),
           SKY: (70, 130, 180), PERSON: (220, 20, 60), CAR: (0, 0, 142), TRUCK: (0, 0, 70)}


def street_scene(rng: np.random.Generator, height: int,
                 width: int) -> Tuple[np.ndarray, np.ndarray]:
    """``(label ids, instance ids)`` of one scene, Cityscapes' encoding:
    a stuff pixel's instance id is its label id, an object's
    ``label * 1000 + k`` and a crowd's its label id."""
    labels = np.full((height, width), SKY, np.int32)
    horizon = int(height * rng.uniform(0.3, 0.45))
    labels[horizon:] = BUILDING
    ground = int(height * rng.uniform(0.55, 0.65))
    labels[ground:] = ROAD
    labels[ground:ground + 3, :width // 3] = SIDEWALK
    labels[horizon:ground, width - width // 6:] = VEGETATION
    labels[:2, :] = UNLABELED
    labels[-3:, width // 2:width // 2 + 6] = STATIC
    instances = labels.copy()
    counts: Dict[int, int] = {}
    for _ in range(int(rng.integers(2, 5))):
        label = int(rng.choice(THING_LABELS))
        h = int(rng.integers(height // 8, height // 3))
        w = int(rng.integers(width // 10, width // 4))
        y = int(rng.integers(horizon, height - h))
        x = int(rng.integers(0, width - w))
        counts[label] = counts.get(label, -1) + 1
        labels[y:y + h, x:x + w] = label
        instances[y:y + h, x:x + w] = label * 1000 + counts[label]
    y, x = height - 8, int(rng.integers(0, width // 2))
    labels[y:y + 6, x:x + 10] = CAR
    instances[y:y + 6, x:x + 10] = CAR  # a car group: crowd
    return labels, instances


def image_of(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An RGB image: each label's colour plus a little noise."""
    lut = np.zeros((256, 3), np.uint8)
    for label, colour in COLOURS.items():
        lut[label] = colour
    noise = rng.integers(-12, 13, size=labels.shape + (3,))
    return np.clip(lut[labels].astype(int) + noise, 0, 255).astype(np.uint8)


def make_cityscapes_tree(root: str, splits: Dict[str, int], height: int = 64,
                         width: int = 128, seed: int = 0) -> List[str]:
    """``leftImg8bit/<split>/<city>/`` images and ``gtFine/<split>/<city>/``
    ``*_gtFine_labelIds.png`` / ``*_gtFine_instanceIds.png`` (16 bit), as
    the official download; returns the image ids."""
    rng = np.random.default_rng(seed)
    ids = []
    for split, count in splits.items():
        for index in range(count):
            city = ('aachen', 'frankfurt')[index % 2]
            image_id = f'{city}_{index:06d}_{19 + index:06d}'
            labels, instances = street_scene(rng, height, width)
            for folder in ('leftImg8bit', 'gtFine'):
                os.makedirs(osp.join(root, folder, split, city), exist_ok=True)
            Image.fromarray(image_of(labels, rng)).save(
                osp.join(root, 'leftImg8bit', split, city, f'{image_id}_leftImg8bit.png'))
            gt = osp.join(root, 'gtFine', split, city, f'{image_id}_gtFine_')
            Image.fromarray(labels.astype(np.uint8)).save(gt + 'labelIds.png')
            Image.fromarray(instances.astype(np.uint16)).save(gt + 'instanceIds.png')
            ids.append(image_id)
    return ids


def make_mapillary_tree(root: str, split: str, count: int, categories: List[dict],
                        height: int = 48, width: int = 64, seed: int = 0) -> None:
    """``<split>/images/<id>.jpg`` and ``<split>/panoptic/panoptic_2018.json``
    plus PNGs, the Mapillary Vistas v1.2 layout. The scenes use the
    categories named Sky, Building, Road, Person and Car (Cityscapes' scene
    with its labels renamed); segment ids are drawn at random, as
    Mapillary's are."""
    rng = np.random.default_rng(seed)
    by_name = {cat['name']: cat['id'] for cat in categories}
    rename = {SKY: 'Sky', BUILDING: 'Building', ROAD: 'Road', SIDEWALK: 'Sidewalk',
              VEGETATION: 'Vegetation', PERSON: 'Person', CAR: 'Car', TRUCK: 'Truck'}
    os.makedirs(osp.join(root, split, 'images'), exist_ok=True)
    os.makedirs(osp.join(root, split, 'panoptic'), exist_ok=True)
    images, annotations = [], []
    for index in range(count):
        labels, instances = street_scene(rng, height, width)
        name = f'mv{index:04d}'
        Image.fromarray(image_of(labels, rng)).save(
            osp.join(root, split, 'images', f'{name}.jpg'), quality=95)
        pan = np.zeros(labels.shape, np.int64)
        segments = []
        for value in np.unique(instances):
            label = int(value // 1000 if value >= 1000 else value)
            if label not in rename:
                continue
            mask = instances == value
            seg_id = int(rng.integers(1, 256**3))
            pan[mask] = seg_id
            ys, xs = np.nonzero(mask)
            segments.append(dict(
                id=seg_id, category_id=by_name[rename[label]],
                iscrowd=int(label in THING_LABELS and value < 1000), area=int(mask.sum()),
                bbox=[int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1]))
        Image.fromarray(id2rgb(pan)).save(osp.join(root, split, 'panoptic', f'{name}.png'))
        images.append(dict(id=name, file_name=f'{name}.jpg', height=height, width=width))
        annotations.append(dict(image_id=name, file_name=f'{name}.png', segments_info=segments))
    with open(osp.join(root, split, 'panoptic', 'panoptic_2018.json'), 'w') as f:
        json.dump(dict(images=images, annotations=annotations, categories=categories), f)


def ground_truth_predictions(dataset, perturb: bool, relabel: Tuple[str, str]) -> List[dict]:
    """Data samples holding the ground truth as MMDetection's panoptic
    prediction (``label + k * 1000`` for objects, VOID for crowd and void);
    ``perturb`` moves and drops objects, shifts a band of pixels and makes
    the stuff class ``relabel[0]`` the class ``relabel[1]`` in one image."""
    classes = dataset.metainfo['classes']
    num_things = len(dataset.metainfo['thing_classes'])
    samples = []
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        gt = rgb2id(np.array(Image.open(info['seg_map_path'])))
        pred = np.full(gt.shape, len(classes), np.int64)
        things = [s for s in info['segments_info'] if s['is_thing']]
        for k, segment in enumerate(things):
            pred[gt == segment['id']] = segment['category'] + (k + 1) * 1000
        for segment in info['segments_info']:
            if segment['category'] >= num_things:
                pred[gt == segment['id']] = segment['category']
        if perturb:
            rows = slice(index, gt.shape[0] // 2)
            pred[rows, :20] = np.roll(pred[rows, :20], 4 + index, axis=1)
            if things:  # the last object two rows lower: IoU below 1
                moved = np.roll(gt == things[-1]['id'], 2, axis=0)
                pred[moved] = things[-1]['category'] + len(things) * 1000
            if things and index == 1:
                pred[gt == things[0]['id']] = len(classes)  # missed
            if index == 2:
                pred[pred == classes.index(relabel[0])] = classes.index(relabel[1])
        samples.append(dict(img_id=info['img_id'], img_path=info['img_path'],
                            ori_shape=gt.shape,
                            pred_panoptic_seg=dict(sem_seg=torch.from_numpy(pred)[None])))
    return samples


def metric_scores(ann_file: str, seg_prefix: str, dataset, samples: List[dict],
                  out_dir: str) -> Dict[str, Dict[str, float]]:
    """mmpfcn's metric with each backend (panopticapi image by image,
    hotcoco at the end), and writing a submission to
    ``<out_dir>/results.panoptic.json`` and ``results.panoptic/``."""
    scores = {}
    for name, extra in (('panopticapi', dict(backend='panopticapi')),
                        ('hotcoco', dict(backend='hotcoco')),
                        ('submission', dict(outfile_prefix=osp.join(out_dir, 'results'),
                                            nproc=1))):
        metric = METRICS.build(dict(type='CocoPanopticSizeMetric', ann_file=ann_file,
                                    seg_prefix=seg_prefix, **extra))
        metric.dataset_meta = dataset.metainfo
        # A copy each: MMDetection's metric writes VOID into the tensors it reads.
        metric.process({}, copy.deepcopy(samples))
        scores[name] = metric.evaluate(len(samples))
    return scores


def as_metric_keys(results: dict) -> Dict[str, float]:
    """panopticapi-shaped results (``All`` / ``Things`` / ``Stuff`` with
    fractions) under MMDetection's metric keys, in percent."""
    return {
        f'coco_panoptic/{kind.upper()}{suffix}': 100 * results[group][kind]
        for group, suffix in (('All', ''), ('Things', '_th'), ('Stuff', '_st'))
        for kind in ('pq', 'sq', 'rq')}


def assert_same_figures(scores: Dict[str, Dict[str, float]], reference: Dict[str, float],
                        perturb: bool) -> None:
    """Every evaluation in ``scores`` equals ``reference`` to 1e-6 on every figure; ground
    truth scores 100 everywhere, the perturbed predictions something in between."""
    for name, values in scores.items():
        for key in KEYS:
            assert values[f'coco_panoptic/{key}'] == pytest.approx(
                reference[f'coco_panoptic/{key}'], abs=1e-6), (name, key)
    if perturb:
        assert 30 < reference['coco_panoptic/PQ'] < 95
    else:
        assert all(reference[f'coco_panoptic/{key}'] == 100 for key in KEYS)
