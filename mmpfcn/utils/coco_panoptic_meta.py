"""COCO panoptic's classes and category ids, in MMDetection's label order.

MMDetection labels COCO panoptic's 80 thing classes 0-79 and its 53 stuff
classes 80-132, each group in ascending order of the COCO category id. The
authors' checkpoints use the same order, so a prediction's label ``i`` is the
COCO category ``COCO_PANOPTIC_CATEGORY_IDS[i]``. A checkpoint that carries
:func:`coco_panoptic_dataset_meta` lets the inferencer name and colour its
classes and lets a demo write COCO panoptic category ids.
"""
import copy
from typing import Tuple

from mmdet.datasets import CocoPanopticDataset

# Things: 1-90 without the ten ids COCO never used for an annotated class.
COCO_PANOPTIC_THING_IDS: Tuple[int, ...] = tuple(
    i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83))
# Stuff: the 53 merged stuff categories of COCO panoptic.
COCO_PANOPTIC_STUFF_IDS: Tuple[int, ...] = (
    92, 93, 95, 100, 107, 109, 112, 118, 119, 122, 125, 128, 130, 133, 138, 141, 144, 145, 147,
    148, 149, 151, 154, 155, 156, 159, 161, 166, 168, 171, 175, 176, 177, 178, 180, 181,
    *range(184, 201))
COCO_PANOPTIC_CATEGORY_IDS: Tuple[int, ...] = COCO_PANOPTIC_THING_IDS + COCO_PANOPTIC_STUFF_IDS


def coco_panoptic_dataset_meta() -> dict:
    """A fresh copy of COCO panoptic's ``dataset_meta``: MMDetection's
    ``CocoPanopticDataset.METAINFO`` (``classes``, ``thing_classes``,
    ``stuff_classes``, ``palette``) plus ``category_ids``, label -> COCO id."""
    meta = copy.deepcopy(CocoPanopticDataset.METAINFO)
    meta['category_ids'] = list(COCO_PANOPTIC_CATEGORY_IDS)
    return meta
