"""COCO panoptic's dataset_meta: MMDetection's classes and palette plus the category ids."""
from mmdet.datasets import CocoPanopticDataset

from mmpfcn.utils.coco_panoptic_meta import (COCO_PANOPTIC_CATEGORY_IDS, COCO_PANOPTIC_STUFF_IDS,
                                             COCO_PANOPTIC_THING_IDS, coco_panoptic_dataset_meta)


def test_category_ids_follow_mmdetection_label_order():
    assert len(COCO_PANOPTIC_THING_IDS) == 80 and len(COCO_PANOPTIC_STUFF_IDS) == 53
    assert list(COCO_PANOPTIC_THING_IDS) == sorted(COCO_PANOPTIC_THING_IDS)
    assert list(COCO_PANOPTIC_STUFF_IDS) == sorted(COCO_PANOPTIC_STUFF_IDS)
    assert max(COCO_PANOPTIC_THING_IDS) < min(COCO_PANOPTIC_STUFF_IDS)
    meta = coco_panoptic_dataset_meta()
    by_name = dict(zip(meta['classes'], meta['category_ids']))
    assert (by_name['person'], by_name['toothbrush'], by_name['banner'], by_name['rug-merged']) == \
        (1, 90, 92, 200)
    assert meta['category_ids'] == list(COCO_PANOPTIC_CATEGORY_IDS)


def test_dataset_meta_is_mmdetections_plus_ids_and_a_fresh_copy():
    meta = coco_panoptic_dataset_meta()
    for key, value in CocoPanopticDataset.METAINFO.items():
        assert list(meta[key]) == list(value)
    assert len(meta['palette']) == len(meta['classes']) == len(meta['category_ids']) == 133
    meta['classes'] = ()
    assert len(coco_panoptic_dataset_meta()['classes']) == 133
