"""Panoptic quality (PQ, SQ, RQ) by object size, in pure numpy.

Segments are matched exactly as panopticapi's ``pq_compute`` matches them:
same category and IoU > 0.5, where the union leaves out the prediction's
pixels on VOID; crowd ground truth (``iscrowd`` = 1) is never counted, and an
unmatched prediction lying mostly (> 0.5) on VOID plus the crowd region of
its category is no false positive. Each outcome is then put in a size
bucket: a matched pair (TP) and an unmatched ground truth segment (FN) by
the ground truth segment's area, an unmatched prediction (FP) by the
predicted segment's area. An area ``a`` is in the bucket ``(low, high)``
when ``low <= a < high``; buckets are independent, so overlapping ranges
count a segment in each of them.

Statistics are ``{bucket: {category_id: [tp, fp, fn, iou_sum]}}`` (float64
arrays); they sum over images in the order given, as panopticapi's
``PQStat`` does, so a single ``(0, inf)`` bucket reproduces its PQ exactly.
"""
from types import MappingProxyType
from typing import Dict, Iterable, Mapping, Optional, Sequence, Tuple

import numpy as np

#: panopticapi's id of unlabelled pixels and its pair-encoding offset.
VOID = 0
OFFSET = 256 * 256 * 256

#: COCO's object sizes: small < 32², medium 32²..96², large >= 96² pixels.
COCO_AREA_RANGES: Mapping[str, Tuple[float, float]] = MappingProxyType({
    'small': (0, 32**2),
    'medium': (32**2, 96**2),
    'large': (96**2, float('inf')),
})

AreaRanges = Mapping[str, Tuple[float, float]]
SizeStats = Dict[str, Dict[int, np.ndarray]]
TP, FP, FN, IOU = range(4)


def _index(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Position of each value in ``keys``, or -1 where it is absent."""
    if len(keys) == 0:
        return np.full(len(values), -1, np.int64)
    order = np.argsort(keys, kind='stable')
    pos = np.clip(np.searchsorted(keys[order], values), 0, len(keys) - 1)
    return np.where(keys[order][pos] == values, order[pos], -1)


def _add(stats: Dict[int, np.ndarray], column: int, cats: np.ndarray,
         values: np.ndarray) -> None:
    """Add ``values`` into ``column`` of their category's statistics;
    ``bincount`` sums them in order, as panopticapi's loop does."""
    uniq, inverse = np.unique(cats, return_inverse=True)
    sums = np.bincount(inverse, weights=values, minlength=len(uniq))
    for cat, total in zip(uniq.tolist(), sums.tolist()):
        stats.setdefault(cat, np.zeros(4))[column] += total


def pq_stats_by_size(pan_gt: np.ndarray,
                     pan_pred: np.ndarray,
                     gt_segments: Sequence[Mapping],
                     pred_segments: Sequence[Mapping],
                     area_ranges: AreaRanges = COCO_AREA_RANGES) -> SizeStats:
    """The per-bucket statistics of one image.

    Args:
        pan_gt, pan_pred: ``(H, W)`` segment id maps (``rgb2id`` of the
            COCO panoptic PNGs); VOID is 0.
        gt_segments: ``id``, ``category_id``, ``iscrowd`` and ``area`` of
            each ground truth segment (the annotation's area, which
            panopticapi also uses for the IoU).
        pred_segments: ``id`` and ``category_id`` of each predicted segment;
            its area is counted from ``pan_pred``.
        area_ranges: bucket name to ``(low, high)`` area.

    Raises:
        ValueError: a non-VOID id of ``pan_pred`` is not in
            ``pred_segments``, or a predicted segment is not in the map
            (panopticapi refuses both).
    """
    gt_ids = np.array([s['id'] for s in gt_segments], np.int64)
    gt_cats = np.array([s['category_id'] for s in gt_segments], np.int64)
    gt_crowd = np.array([s['iscrowd'] == 1 for s in gt_segments], bool)
    gt_area = np.array([s['area'] for s in gt_segments], np.float64)
    pred_ids = np.array([s['id'] for s in pred_segments], np.int64)
    pred_cats = np.array([s['category_id'] for s in pred_segments], np.int64)

    png_ids, png_area = np.unique(pan_pred, return_counts=True)
    unknown = png_ids[(_index(pred_ids, png_ids) < 0) & (png_ids != VOID)]
    missing = pred_ids[_index(png_ids, pred_ids) < 0]
    if len(unknown) or len(missing):
        raise ValueError(
            f'Predicted segment ids {unknown.tolist()} are in the map but not '
            f'in the segments, ids {missing.tolist()} the other way round.')
    pred_area = png_area[_index(png_ids, pred_ids)].astype(np.float64)

    # Intersections of every (gt id, predicted id) pair present in the maps.
    joint = pan_gt.astype(np.uint64) * OFFSET + pan_pred.astype(np.uint64)
    pairs, inter = np.unique(joint, return_counts=True)
    pair_gt = (pairs // OFFSET).astype(np.int64)
    pair_pred = (pairs % OFFSET).astype(np.int64)
    gi, pi = _index(gt_ids, pair_gt), _index(pred_ids, pair_pred)
    inter = inter.astype(np.float64)

    on_void = (pair_gt == VOID) & (pi >= 0)
    void_inter = np.zeros(len(pred_ids))
    void_inter[pi[on_void]] = inter[on_void]

    # TP: same category, gt not crowd, IoU > 0.5 (so at most one per gt).
    cand = np.flatnonzero((gi >= 0) & (pi >= 0))
    cand = cand[~gt_crowd[gi[cand]]
                & (gt_cats[gi[cand]] == pred_cats[pi[cand]])]
    union = (pred_area[pi[cand]] + gt_area[gi[cand]] - inter[cand] -
             void_inter[pi[cand]])
    iou = inter[cand] / union
    matched = cand[iou > 0.5]
    iou = iou[iou > 0.5]
    gt_matched = np.zeros(len(gt_ids), bool)
    gt_matched[gi[matched]] = True
    pred_matched = np.zeros(len(pred_ids), bool)
    pred_matched[pi[matched]] = True

    fn = ~gt_matched & ~gt_crowd

    # FP: unmatched predictions not lying mostly on VOID plus the crowd
    # region of their category (panopticapi keeps the last crowd segment of
    # each category).
    crowd_of_cat = {
        int(cat): int(seg_id)
        for seg_id, cat in zip(gt_ids[gt_crowd], gt_cats[gt_crowd])
    }
    # The crowd id of each prediction's category, -1 (no id) last for pi -1.
    pred_crowd = np.array(
        [crowd_of_cat.get(int(c), -1) for c in pred_cats] + [-1], np.int64)
    on_crowd = (pi >= 0) & (pair_gt == pred_crowd[pi])
    ignored = void_inter.copy()
    ignored[pi[on_crowd]] += inter[on_crowd]
    fp = ~pred_matched & ~(ignored / pred_area > 0.5)

    tp_gt = gi[matched]
    stats: SizeStats = {}
    for name, (low, high) in area_ranges.items():
        bucket: Dict[int, np.ndarray] = {}
        tp_in = (gt_area[tp_gt] >= low) & (gt_area[tp_gt] < high)
        _add(bucket, TP, gt_cats[tp_gt][tp_in], np.ones(tp_in.sum()))
        _add(bucket, IOU, gt_cats[tp_gt][tp_in], iou[tp_in])
        fp_in = fp & (pred_area >= low) & (pred_area < high)
        _add(bucket, FP, pred_cats[fp_in], np.ones(fp_in.sum()))
        fn_in = fn & (gt_area >= low) & (gt_area < high)
        _add(bucket, FN, gt_cats[fn_in], np.ones(fn_in.sum()))
        stats[name] = bucket
    return stats


def merge_size_stats(per_image: Iterable[SizeStats],
                     names: Iterable[str]) -> SizeStats:
    """Sum the statistics of many images, in order, into every bucket of
    ``names`` (a bucket no image filled stays empty)."""
    total: SizeStats = {name: {} for name in names}
    for stats in per_image:
        for name, bucket in stats.items():
            into = total.setdefault(name, {})
            for cat, values in bucket.items():
                into[cat] = into.get(cat, np.zeros(4)) + values
    return total


def _average(bucket: Mapping[int, np.ndarray],
             categories: Mapping[int, Mapping],
             isthing: Optional[bool]) -> Dict[str, float]:
    """panopticapi's ``pq_average`` of one bucket: the mean over the
    categories with any TP, FP or FN (all 0 when there is none)."""
    pq = sq = rq = 0.0
    n = 0
    for cat, info in categories.items():
        if isthing is not None and isthing != (info['isthing'] == 1):
            continue
        tp, fp, fn, iou = bucket.get(cat, np.zeros(4)).tolist()
        if tp + fp + fn == 0:
            continue
        n += 1
        pq += iou / (tp + 0.5 * fp + 0.5 * fn)
        sq += iou / tp if tp != 0 else 0
        rq += tp / (tp + 0.5 * fp + 0.5 * fn)
    if n == 0:
        return dict(pq=0.0, sq=0.0, rq=0.0, n=0)
    return dict(pq=pq / n, sq=sq / n, rq=rq / n, n=n)


def pq_average_by_size(stats: SizeStats,
                       categories: Mapping[int, Mapping]) -> Dict[str, dict]:
    """Per bucket: ``All``, ``Things`` and ``Stuff`` averages (``pq``,
    ``sq``, ``rq`` in [0, 1] and ``n`` classes) and ``num_gt``, the number
    of non-crowd ground truth segments (TP + FN) of ``categories`` in it.

    A bucket without any class gives 0 everywhere, not an error, so a
    dataset lacking e.g. large objects still yields every key.
    """
    results = {}
    for name, bucket in stats.items():
        results[name] = {
            group: _average(bucket, categories, isthing)
            for group, isthing in (('All', None), ('Things', True),
                                   ('Stuff', False))
        }
        results[name]['num_gt'] = int(
            sum(bucket[cat][TP] + bucket[cat][FN] for cat in categories
                if cat in bucket))
    return results
