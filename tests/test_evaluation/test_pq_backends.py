"""hotcoco, the fast panoptic evaluator, against panopticapi, the reference:
every PQ / SQ / RQ figure, per class included, on the generated val split
with crowd objects, void pixels, an all-void image and empty predictions."""
import json
import os.path as osp

import pytest
from hotcoco.panoptic import pq_compute as hotcoco_pq_compute
from panopticapi.evaluation import pq_compute

from projects.synthetic.synthetic_panoptic import generate_synthetic_panoptic
from projects.synthetic.synthetic_panoptic.evaluation_cases import \
    make_evaluation_case


@pytest.fixture(scope='module')
def case(tmp_path_factory) -> dict:
    root = str(tmp_path_factory.mktemp('synthetic'))
    generate_synthetic_panoptic(root, num_train=1, num_val=10, size=64, seed=0)
    return make_evaluation_case(osp.join(root, 'annotations', 'panoptic_val.json'),
                                osp.join(root, 'annotations', 'panoptic_val'),
                                str(tmp_path_factory.mktemp('case')))


def test_the_case_has_crowd_void_and_empty_images(case):
    with open(case['gt_json']) as f:
        gt = json.load(f)
    with open(case['pred_json']) as f:
        pred = json.load(f)
    assert any(s['iscrowd'] for a in gt['annotations'] for s in a['segments_info'])
    assert any(not a['segments_info'] for a in gt['annotations'])  # all void
    assert sum(not a['segments_info'] for a in pred['annotations']) == 2  # predicts nothing


def test_hotcoco_equals_panopticapi_per_class(case):
    args = (case['gt_json'], case['pred_json'], case['gt_folder'], case['pred_folder'])
    reference = pq_compute(*args)
    fast = hotcoco_pq_compute(*args)
    for group in ('All', 'Things', 'Stuff'):
        assert fast[group]['n'] == reference[group]['n']
        for kind in ('pq', 'sq', 'rq'):
            assert fast[group][kind] == pytest.approx(reference[group][kind], abs=1e-12)
    assert set(fast['per_class']) == set(reference['per_class'])
    for cat_id, figures in reference['per_class'].items():
        for kind in ('pq', 'sq', 'rq'):
            assert fast['per_class'][cat_id][kind] == pytest.approx(figures[kind], abs=1e-12)
    # Neither trivially perfect nor empty.
    assert 0.2 < reference['All']['pq'] < 0.9
    assert reference['Things']['n'] == 6 and reference['Stuff']['n'] == 4
