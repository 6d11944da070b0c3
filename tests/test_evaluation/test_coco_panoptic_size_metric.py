"""CocoPanopticSizeMetric and pq_by_size: PQ by object size on tiny hand-made
panoptic maps (128x128: a small person, a medium car, a car crowd, large
sky, a VOID strip)."""
import json
from typing import Dict, List, Optional

import numpy as np
import pytest
import torch
from mmdet.registry import METRICS
from mmdet.structures import DetDataSample
from mmengine.structures import PixelData
from panopticapi.utils import id2rgb
from PIL import Image

import mmpfcn  # noqa: F401  (registers the metric)
from mmpfcn.evaluation.functional import (merge_size_stats,
                                          pq_average_by_size,
                                          pq_stats_by_size)

CLASSES = ('person', 'car', 'sky')
THINGS, STUFF = CLASSES[:2], CLASSES[2:]
H = W = 128
VOID_LABEL = len(CLASSES)  # MMDet's VOID in a predicted panoptic map
# GT segment id: (label, iscrowd, rows, cols); sky (id 3) is everything else.
GT_SEGMENTS = {
    1: (0, 0, slice(4, 24), slice(4, 24)),  # person 20x20: small
    2: (1, 0, slice(40, 90), slice(40, 90)),  # car 50x50: medium
    4: (1, 1, slice(100, 120), slice(4, 24)),  # car crowd: never counted
    0: (None, 0, slice(124, 128), slice(100, 128)),  # VOID
}
SKY_ID = 3
# GT segment id to the id MMDet predicts for it (label + instance * 1000).
PRED_ID = {1: 1000, 2: 1001, 3: 2, 4: 2001, 0: VOID_LABEL}
SIZE_KEYS = ('PQ', 'SQ', 'RQ', 'PQ_th', 'PQ_st', 'num_gt')


def gt_map() -> np.ndarray:
    seg = np.full((H, W), SKY_ID, np.int64)
    for seg_id, (_, _, rows, cols) in GT_SEGMENTS.items():
        seg[rows, cols] = seg_id
    return seg


def perfect_prediction() -> np.ndarray:
    """The ground truth in MMDet's panoptic encoding."""
    return np.vectorize(PRED_ID.get)(gt_map())


def gt_segments_info(seg: np.ndarray) -> List[dict]:
    """``(id, label, iscrowd)`` of every GT segment but VOID."""
    segments = [(seg_id, label, crowd)
                for seg_id, (label, crowd, _, _) in GT_SEGMENTS.items()
                if label is not None]
    return segments + [(SKY_ID, 2, 0)]


def write_ground_truth(tmp_path, count: int) -> str:
    """``count`` copies of the GT map as COCO panoptic PNGs and json (COCO
    category id = label + 1); returns the json path."""
    (tmp_path / 'pan').mkdir()
    seg = gt_map()
    images, annotations = [], []
    for i in range(count):
        Image.fromarray(id2rgb(seg)).save(tmp_path / 'pan' / f'img{i}.png')
        images.append(dict(id=i, file_name=f'img{i}.jpg', height=H, width=W))
        annotations.append(
            dict(image_id=i, file_name=f'img{i}.png', segments_info=[
                dict(id=s, category_id=label + 1, iscrowd=crowd,
                     area=int((seg == s).sum()), bbox=[0, 0, 1, 1])
                for s, label, crowd in gt_segments_info(seg)
            ]))
    categories = [dict(id=i + 1, name=n, isthing=int(n in THINGS),
                       supercategory='x') for i, n in enumerate(CLASSES)]
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(dict(images=images, annotations=annotations,
                                    categories=categories)))
    return str(path)


def evaluate(tmp_path, preds: List[np.ndarray], metric: str,
             use_ann_file: bool = True, **kwargs) -> Dict[str, float]:
    """Scores of ``metric`` for one predicted map per image (the GT files
    are written on the first call)."""
    if not (tmp_path / 'ann.json').exists():
        write_ground_truth(tmp_path, len(preds))
    ann_file = str(tmp_path / 'ann.json') if use_ann_file else None
    evaluator = METRICS.build(dict(type=metric, ann_file=ann_file,
                                   seg_prefix=str(tmp_path / 'pan'),
                                   **kwargs))
    evaluator.dataset_meta = dict(classes=CLASSES, thing_classes=THINGS,
                                  stuff_classes=STUFF)
    samples = []
    for i, pred in enumerate(preds):
        # Without ann_file, the parent reads the GT segments from here.
        segments = [dict(id=s, category=label, is_thing=not crowd)
                    for s, label, crowd in gt_segments_info(gt_map())]
        sample = DetDataSample(metainfo=dict(
            img_id=i, img_path=f'img{i}.jpg', ori_shape=(H, W),
            segments_info=segments))
        # A copy: the parent writes VOID into the map it is given.
        sample.pred_panoptic_seg = PixelData(sem_seg=torch.tensor(pred)[None])
        samples.append(sample.to_dict())
    evaluator.process({}, samples)
    return evaluator.evaluate(size=len(preds))


def size_scores(scores: Dict[str, float], size: str) -> Dict[str, float]:
    return {key: scores[f'coco_panoptic/{key}_{size}'] for key in SIZE_KEYS}


@pytest.mark.parametrize('use_ann_file', [True, False])
def test_ground_truth_scores_100_and_keeps_the_parent_keys(
        tmp_path, use_ann_file):
    pred = perfect_prediction()
    scores = evaluate(tmp_path, [pred], 'CocoPanopticSizeMetric',
                      use_ann_file)
    parent = evaluate(tmp_path, [pred], 'CocoPanopticMetric', use_ann_file)

    assert {k: scores[k] for k in parent} == parent
    assert set(scores) == set(parent) | {
        f'coco_panoptic/{key}_{size}'
        for key in SIZE_KEYS for size in ('small', 'medium', 'large')
    }
    # The crowd car is neither a GT segment nor, predicted as car, an FP.
    assert size_scores(scores, 'small') == dict(
        PQ=100, SQ=100, RQ=100, PQ_th=100, PQ_st=0, num_gt=1)
    assert size_scores(scores, 'medium') == dict(
        PQ=100, SQ=100, RQ=100, PQ_th=100, PQ_st=0, num_gt=1)
    assert size_scores(scores, 'large') == dict(
        PQ=100, SQ=100, RQ=100, PQ_th=0, PQ_st=100, num_gt=1)


def test_missed_small_thing_is_a_false_negative_of_small_only(tmp_path):
    pred = perfect_prediction()
    pred[pred == PRED_ID[1]] = VOID_LABEL
    scores = evaluate(tmp_path, [pred], 'CocoPanopticSizeMetric')

    assert size_scores(scores, 'small') == dict(
        PQ=0, SQ=0, RQ=0, PQ_th=0, PQ_st=0, num_gt=1)
    assert scores['coco_panoptic/PQ_medium'] == 100
    assert scores['coco_panoptic/PQ_large'] == 100


def test_small_false_positive_lowers_only_small(tmp_path):
    pred = perfect_prediction()
    # A 12x12 person on the car crowd: it steals no counted GT pixel, and
    # crowd of another class does not excuse it.
    pred[104:116, 8:20] = 2000
    scores = evaluate(tmp_path, [pred], 'CocoPanopticSizeMetric')

    # person: 1 TP, 1 FP -> RQ = 1 / (1 + 0.5).
    small = size_scores(scores, 'small')
    assert small['PQ'] == pytest.approx(100 / 1.5)
    assert small['RQ'] == pytest.approx(100 / 1.5)
    assert (small['SQ'], small['num_gt']) == (100, 1)
    assert size_scores(scores, 'medium')['PQ'] == 100
    assert size_scores(scores, 'large')['PQ'] == 100


def test_partial_medium_thing_gets_its_iou_as_sq(tmp_path):
    pred = perfect_prediction()
    pred[80:90, 40:90] = VOID_LABEL  # 500 car pixels missed
    pred[90:95, 40:90] = PRED_ID[2]  # 250 sky pixels taken
    scores = evaluate(tmp_path, [pred], 'CocoPanopticSizeMetric')

    iou = 2000 / (2250 + 2500 - 2000)
    medium = size_scores(scores, 'medium')
    assert medium['SQ'] == pytest.approx(100 * iou, abs=1e-6)
    assert medium['PQ'] == pytest.approx(100 * iou, abs=1e-6)
    assert medium['RQ'] == 100
    assert size_scores(scores, 'small')['PQ'] == 100


def test_one_bucket_for_all_sizes_is_the_parent_pq(tmp_path):
    messy = perfect_prediction()
    messy[messy == PRED_ID[1]] = VOID_LABEL  # FN
    messy[104:116, 8:20] = 2000  # FP
    messy[80:90, 40:90] = PRED_ID[3]  # partial car, sky grows
    messy[124:128, 100:128] = PRED_ID[3]  # sky over GT VOID: not in union
    preds = [perfect_prediction(), messy]
    everything = dict(all=(0, float('inf')))
    scores = evaluate(tmp_path, preds, 'CocoPanopticSizeMetric',
                      area_ranges=everything)
    parent = evaluate(tmp_path, preds, 'CocoPanopticMetric')

    for key in ('PQ', 'SQ', 'RQ', 'PQ_th', 'PQ_st'):
        assert scores[f'coco_panoptic/{key}_all'] == parent[
            f'coco_panoptic/{key}'], key
    assert scores['coco_panoptic/PQ_all'] < 100
    assert scores['coco_panoptic/num_gt_all'] == 6


def test_outfile_prefix_mode_acts_as_the_parent(tmp_path):
    """A submission (``outfile_prefix``, ``format_only``) writes its files
    as MMDet's metric does; figures by size need the per-batch mode."""
    metric = METRICS.build(dict(type='CocoPanopticSizeMetric',
                                outfile_prefix=str(tmp_path / 'out'),
                                format_only=True))
    assert metric.by_size is False
    assert METRICS.build(dict(type='CocoPanopticSizeMetric')).by_size is True


def summary(pan_gt: np.ndarray, pan_pred: np.ndarray, gt: List[tuple],
            pred: List[tuple], ranges: dict,
            categories: Optional[dict] = None) -> dict:
    """pq_by_size of one image; segments as (id, category[, iscrowd])."""
    stats = pq_stats_by_size(
        pan_gt, pan_pred,
        [dict(id=i, category_id=c, iscrowd=k, area=int((pan_gt == i).sum()))
         for i, c, k in gt],
        [dict(id=i, category_id=c) for i, c in pred], ranges)
    categories = categories or {1: dict(isthing=1), 2: dict(isthing=0)}
    return pq_average_by_size(merge_size_stats([stats], ranges), categories)


def test_bucket_bounds_and_empty_buckets():
    pan = np.zeros((8, 8), np.int64)
    pan[:4, :4] = 5  # a thing of area exactly 16
    ranges = dict(below=(0, 16), at=(16, 64), huge=(1000, float('inf')))
    result = summary(pan, pan, [(5, 1, 0)], [(5, 1)], ranges)

    assert result['below']['num_gt'] == 0
    assert result['at']['All'] == dict(pq=1.0, sq=1.0, rq=1.0, n=1)
    assert result['at']['num_gt'] == 1
    # No class at all in a bucket: every figure is 0, not an error.
    assert result['huge'] == dict(
        All=dict(pq=0.0, sq=0.0, rq=0.0, n=0),
        Things=dict(pq=0.0, sq=0.0, rq=0.0, n=0),
        Stuff=dict(pq=0.0, sq=0.0, rq=0.0, n=0), num_gt=0)


def test_prediction_mostly_on_void_is_no_false_positive_and_fp_uses_own_area():
    pan_gt = np.zeros((8, 8), np.int64)
    pan_gt[:, 4:] = 7  # stuff, area 32
    pan_pred = np.zeros((8, 8), np.int64)
    pan_pred[:, 4:] = 7
    pan_pred[:3, :3] = 8  # on VOID only: ignored
    pan_pred[4:8, 2:6] = 9  # 8 px on VOID, 8 on stuff: not > 0.5, an FP
    ranges = dict(small=(0, 20), large=(20, 64))
    result = summary(pan_gt, pan_pred, [(7, 2, 0)], [(7, 2), (8, 1), (9, 1)],
                     ranges)

    # The FP (area 16) counts in small; the stuff (GT area 32) in large.
    assert result['small']['Things'] == dict(pq=0.0, sq=0.0, rq=0.0, n=1)
    assert result['small']['num_gt'] == 0
    assert result['large']['Stuff']['n'] == 1
    assert result['large']['Things']['n'] == 0


def test_prediction_ids_must_match_the_map():
    pan = np.ones((4, 4), np.int64)
    with pytest.raises(ValueError, match=r'\[1\]'):
        pq_stats_by_size(pan, pan, [], [], dict(all=(0, 16)))
