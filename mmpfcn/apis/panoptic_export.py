"""Panoptic predictions as COCO panoptic annotations.

A prediction's ``pred_panoptic_seg`` holds a map in MMDetection's encoding
(thing ``label + k * INSTANCE_OFFSET``, stuff ``label``) and, in its metainfo,
``segments_info``: one dict per segment with ``id`` (its value in the map),
``label``, ``isthing``, ``score`` and, for things, ``instance``. COCO panoptic
files number the segments of an image 1..N (0 is void), store the id map as an
RGB PNG (panopticapi's ``id2rgb``) and describe each segment in a JSON list with
the dataset's category id, its area and its box. ``demo/image_demo.py`` writes
both; panopticapi's ``rgb2id`` reads the PNG back.
"""
from typing import List, Optional, Sequence, Tuple

import numpy as np
from mmdet.structures import DetDataSample
from panopticapi.utils import id2rgb


def coco_panoptic_segments(
        pan: np.ndarray,
        segments_info: Sequence[dict],
        category_ids: Optional[Sequence[int]] = None) -> Tuple[np.ndarray, List[dict]]:
    """Renumber a panoptic map to COCO segment ids and describe its segments.

    Args:
        pan (np.ndarray): ``(H, W)`` map in MMDetection's encoding.
        segments_info (Sequence[dict]): the model's segments (``id``,
            ``label``, ``isthing``, ``score``). Map values that no segment
            names (the model's void) become 0.
        category_ids (Sequence[int], optional): the dataset's category id of
            each label; without it a label's category id is ``label + 1``.

    Returns:
        tuple: the ``(H, W)`` int32 id map (segments 1..N in the order of
        ``segments_info``, void 0) and, per segment present in the map, a dict
        ``id``, ``category_id``, ``iscrowd`` (0), ``area`` (pixels), ``bbox``
        (``[x, y, w, h]``, inclusive of the last row and column), ``score``
        and ``isthing``. Segments with no pixel left in the map are dropped.
    """
    height, width = pan.shape
    position = {int(segment['id']): i for i, segment in enumerate(segments_info)}
    # Each pixel's index in segments_info; void pixels get the extra last slot
    # of the tables below. The lookup loops over the map's distinct values only.
    void = len(segments_info)
    values, inverse = np.unique(pan, return_inverse=True)
    lookup = np.array([position.get(value, void) for value in values.tolist()], dtype=np.int64)
    index = lookup[inverse].reshape(height, width)
    area = np.bincount(index.ravel(), minlength=void + 1)[:void]
    rows = np.zeros((void + 1, height), dtype=bool)
    cols = np.zeros((void + 1, width), dtype=bool)
    rows[index, np.arange(height)[:, None]] = True
    cols[index, np.arange(width)[None, :]] = True
    present = np.flatnonzero(area)
    new_ids = np.zeros(void + 1, dtype=np.int32)
    new_ids[present] = np.arange(1, len(present) + 1)
    id_map = new_ids[index]

    segments = []
    for new_id, i in enumerate(present.tolist(), 1):
        info = segments_info[i]
        label = int(info['label'])
        y0, x0 = int(rows[i].argmax()), int(cols[i].argmax())
        y1 = height - 1 - int(rows[i, ::-1].argmax())
        x1 = width - 1 - int(cols[i, ::-1].argmax())
        segments.append(dict(
            id=new_id,
            category_id=int(category_ids[label]) if category_ids is not None else label + 1,
            iscrowd=0,
            area=int(area[i]),
            bbox=[x0, y0, x1 - x0 + 1, y1 - y0 + 1],
            score=float(info['score']),
            isthing=bool(info['isthing'])))
    return id_map, segments


def coco_panoptic_annotation(data_sample: DetDataSample, dataset_meta: dict,
                             file_name: str) -> Tuple[np.ndarray, dict]:
    """The COCO panoptic PNG and annotation of one prediction.

    Args:
        data_sample (DetDataSample): a prediction with ``pred_panoptic_seg``
            whose metainfo holds ``segments_info``.
        dataset_meta (dict): the model's ``dataset_meta``; its
            ``category_ids``, when present, map labels to category ids.
        file_name (str): the PNG's file name, recorded in the annotation.

    Returns:
        tuple: the ``(H, W, 3)`` uint8 RGB image of the segment ids (``id2rgb``)
        and ``{'file_name': file_name, 'segments_info': [...]}`` (see
        :func:`coco_panoptic_segments`).
    """
    pred = data_sample.pred_panoptic_seg
    if 'segments_info' not in pred:
        raise ValueError(f'{file_name}: the prediction has no segments_info in the metainfo of '
                         'pred_panoptic_seg (PanopticFCNFusionHead records it)')
    id_map, segments = coco_panoptic_segments(pred.sem_seg[0].cpu().numpy(), pred.segments_info,
                                              dataset_meta.get('category_ids'))
    return id2rgb(id_map), dict(file_name=file_name, segments_info=segments)
