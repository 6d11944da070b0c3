"""Ground truth and predictions for comparing panoptic evaluators, made from
the synthetic val split: everything an evaluator must get right at once."""
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import numpy as np
from panopticapi.utils import id2rgb, rgb2id
from PIL import Image


def _segments(pan: np.ndarray, categories: Dict[int, int]) -> List[dict]:
    """COCO panoptic ``segments_info`` of the ids of ``pan`` (0 is void)
    with their category, area and box."""
    segments = []
    ids, areas = np.unique(pan, return_counts=True)
    for seg_id, area in zip(ids.tolist(), areas.tolist()):
        if seg_id == 0:
            continue
        ys, xs = np.nonzero(pan == seg_id)
        segments.append(dict(
            id=seg_id, category_id=categories[seg_id], area=area, iscrowd=0,
            bbox=[int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1]))
    return segments


def _write(folder: str, name: str, pan: np.ndarray) -> None:
    Image.fromarray(id2rgb(pan).astype(np.uint8)).save(osp.join(folder, name))


def _predict(pan: np.ndarray, categories: Dict[int, int], isthing: Dict[int, int],
             index: int, rng: np.random.Generator) -> Tuple[np.ndarray, Dict[int, int]]:
    """A prediction of one image: new segment ids, objects moved by a few
    pixels, one segment dropped, one relabelled within things or stuff,
    one spurious object; every fifth image predicts nothing."""
    if index % 5 == 4:
        return np.zeros_like(pan), {}
    pred = np.zeros_like(pan)
    pred_cats = {}
    seg_ids = [s for s in np.unique(pan).tolist() if s]
    same_kind = {kind: [c for c, t in isthing.items() if t == kind] for kind in (0, 1)}
    for k, seg_id in enumerate(seg_ids):
        mask = pan == seg_id
        if isthing[categories[seg_id]]:
            mask = np.roll(mask, tuple(rng.integers(-3, 4, size=2)), axis=(0, 1))
        new_id = 1000 + 7 * k
        pred[mask] = new_id
        pred_cats[new_id] = categories[seg_id]
    if seg_ids:
        pred[pred == 1000] = 0  # dropped
        pred_cats.pop(1000)
    if len(seg_ids) > 1:
        relabelled = 1007
        kind = isthing[pred_cats[relabelled]]
        pred_cats[relabelled] = int(rng.choice(same_kind[kind]))
    h, w = pan.shape
    y, x = int(rng.integers(0, h - h // 6)), int(rng.integers(0, w - w // 6))
    pred[y:y + h // 6, x:x + w // 6] = 99
    pred_cats[99] = int(rng.choice(same_kind[1]))
    return pred, {s: c for s, c in pred_cats.items() if (pred == s).any()}


def make_evaluation_case(gt_json: str, gt_folder: str, out_dir: str, scale: Tuple[int, int] = (1, 1),
                         seed: int = 0) -> Dict[str, str]:
    """Write a ground truth and a prediction set under ``out_dir`` from a COCO
    panoptic split (the synthetic val split), for comparing evaluators.

    The ground truth is the split's, each map enlarged ``scale`` = (rows,
    columns) times (nearest neighbour), with a void band at the top, every
    third object marked crowd, and an extra image that is all void. The
    predictions (:func:`_predict`) have true, false and missed objects and
    stuff, wrong classes, and empty images.

    Returns:
        dict: ``gt_json``, ``gt_folder``, ``pred_json``, ``pred_folder``.
    """
    rng = np.random.default_rng(seed)
    with open(gt_json) as f:
        source = json.load(f)
    isthing = {cat['id']: cat['isthing'] for cat in source['categories']}
    paths = dict(gt_json=osp.join(out_dir, 'gt.json'), gt_folder=osp.join(out_dir, 'gt'),
                 pred_json=osp.join(out_dir, 'pred.json'), pred_folder=osp.join(out_dir, 'pred'))
    os.makedirs(paths['gt_folder'], exist_ok=True)
    os.makedirs(paths['pred_folder'], exist_ok=True)
    images, gt_anns, pred_anns = [], [], []
    crowd_turn = 0
    for index, ann in enumerate(source['annotations']):
        pan = rgb2id(np.array(Image.open(osp.join(gt_folder, ann['file_name'])).convert('RGB')))
        pan = np.repeat(np.repeat(pan, scale[0], axis=0), scale[1], axis=1)
        pan[:pan.shape[0] // 16] = 0
        categories = {s['id']: s['category_id'] for s in ann['segments_info']}
        segments = _segments(pan, categories)
        for segment in segments:
            if isthing[segment['category_id']]:
                crowd_turn += 1
                segment['iscrowd'] = int(crowd_turn % 3 == 0)
        name = f'{index:06d}.png'
        _write(paths['gt_folder'], name, pan)
        images.append(dict(id=index + 1, file_name=name, height=pan.shape[0], width=pan.shape[1]))
        gt_anns.append(dict(image_id=index + 1, file_name=name, segments_info=segments))
        pred, pred_cats = _predict(pan, categories, isthing, index, rng)
        _write(paths['pred_folder'], name, pred)
        pred_anns.append(dict(image_id=index + 1, file_name=name,
                              segments_info=_segments(pred, pred_cats)))
    empty = np.zeros_like(pan)
    index = len(images)
    _write(paths['gt_folder'], 'void.png', empty)
    images.append(dict(id=index + 1, file_name='void.png', height=empty.shape[0],
                       width=empty.shape[1]))
    gt_anns.append(dict(image_id=index + 1, file_name='void.png', segments_info=[]))
    pred, pred_cats = _predict(empty, {}, isthing, 0, rng)  # a spurious object only
    _write(paths['pred_folder'], 'void.png', pred)
    pred_anns.append(dict(image_id=index + 1, file_name='void.png',
                          segments_info=_segments(pred, pred_cats)))
    with open(paths['gt_json'], 'w') as f:
        json.dump(dict(images=images, annotations=gt_anns, categories=source['categories']), f)
    with open(paths['pred_json'], 'w') as f:
        json.dump(dict(annotations=pred_anns), f)
    return paths
