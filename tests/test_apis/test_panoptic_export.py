"""COCO panoptic export: segment ids 1..N, void 0, areas and boxes from the map,
the dataset's category ids."""
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import PixelData
from panopticapi.utils import rgb2id

from mmpfcn.apis import coco_panoptic_annotation, coco_panoptic_segments

# Things are labels 0-2, stuff 3-4, void 5 (MMDetection's encoding, INSTANCE_OFFSET 1000).
A, B, S, V = 1001, 2000, 3, 5
PAN = np.array([
    [S, S, S, V, V, V],
    [S, A, A, V, B, V],
    [S, A, A, V, B, B],
    [S, S, V, V, V, V],
])
SEGMENTS_INFO = [
    dict(id=A, label=1, isthing=True, score=0.9, instance=0),
    dict(id=B, label=0, isthing=True, score=0.8, instance=1),
    dict(id=3002, label=2, isthing=True, score=0.7, instance=2),  # no pixel left: dropped
    dict(id=S, label=3, isthing=False, score=0.5),
    dict(id=4, label=4, isthing=False, score=0.3),  # no pixel left: dropped
]
EXPECTED_IDS = np.array([
    [3, 3, 3, 0, 0, 0],
    [3, 1, 1, 0, 2, 0],
    [3, 1, 1, 0, 2, 2],
    [3, 3, 0, 0, 0, 0],
])
CATEGORY_IDS = [1, 3, 7, 20, 21]


def expected_segments(categories):
    """The segments of PAN, with ``categories`` the category ids of labels 1, 0 and 3."""
    return [
        dict(id=1, category_id=categories[0], iscrowd=0, area=4, bbox=[1, 1, 2, 2], score=0.9,
             isthing=True),
        dict(id=2, category_id=categories[1], iscrowd=0, area=3, bbox=[4, 1, 2, 2], score=0.8,
             isthing=True),
        dict(id=3, category_id=categories[2], iscrowd=0, area=7, bbox=[0, 0, 3, 4], score=0.5,
             isthing=False),
    ]


def test_segments_with_category_ids():
    id_map, segments = coco_panoptic_segments(PAN, SEGMENTS_INFO, CATEGORY_IDS)
    assert id_map.dtype == np.int32
    np.testing.assert_array_equal(id_map, EXPECTED_IDS)
    assert segments == expected_segments([3, 1, 20])


def test_segments_without_category_ids_use_label_plus_one():
    id_map, segments = coco_panoptic_segments(PAN, SEGMENTS_INFO)
    np.testing.assert_array_equal(id_map, EXPECTED_IDS)
    assert segments == expected_segments([2, 1, 4])


@pytest.mark.parametrize('segments_info', [[], SEGMENTS_INFO], ids=['no-segment', 'none-placed'])
def test_all_void_map(segments_info):
    id_map, segments = coco_panoptic_segments(np.full((3, 4), V), segments_info, CATEGORY_IDS)
    np.testing.assert_array_equal(id_map, np.zeros((3, 4)))
    assert segments == []


def test_annotation_of_a_data_sample():
    sample = DetDataSample(pred_panoptic_seg=PixelData(
        sem_seg=torch.from_numpy(PAN)[None], metainfo=dict(segments_info=SEGMENTS_INFO)))
    png, annotation = coco_panoptic_annotation(sample, dict(category_ids=CATEGORY_IDS), 'x.png')
    assert png.dtype == np.uint8 and png.shape == (4, 6, 3)
    np.testing.assert_array_equal(rgb2id(png), EXPECTED_IDS)
    assert annotation == dict(file_name='x.png', segments_info=expected_segments([3, 1, 20]))


def test_annotation_needs_segments_info():
    sample = DetDataSample(pred_panoptic_seg=PixelData(sem_seg=torch.from_numpy(PAN)[None]))
    with pytest.raises(ValueError, match='x.png: the prediction has no segments_info'):
        coco_panoptic_annotation(sample, {}, 'x.png')
