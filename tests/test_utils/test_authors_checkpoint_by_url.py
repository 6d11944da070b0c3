"""The authors' checkpoint file as it is, by URL, into MMDetection's inference APIs.

The reference fixture's weights, saved in the authors' detectron2 format, are served by the
loopback server plainly and behind a Drive-like confirmation page; ``DetInferencer`` and
``init_detector`` take the URL with no conversion step and reproduce the fixture's panoptic
segments (tests/conftest.py). A checkpoint of another variant or architecture is an error
naming the URL.
"""
import io
import json
import os
import os.path as osp
import re

import pytest
import torch
from mmdet.apis import DetInferencer, inference_detector, init_detector
from mmengine.runner import load_checkpoint

from mmpfcn.models.utils import IncompatibleCheckpointError
from mmpfcn.utils.coco_panoptic_meta import COCO_PANOPTIC_CATEGORY_IDS

REFERENCE = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data',
                     'panopticfcn_reference')


@pytest.fixture
def served(loopback_server, authors_checkpoint, tmp_path, monkeypatch):
    """The loopback server, the authors' file's bytes, and an empty checkpoint cache."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    torch.set_num_threads(2)
    with open(authors_checkpoint, 'rb') as file:
        body = file.read()
    return loopback_server, body, tmp_path / 'torch_home' / 'hub' / 'checkpoints'


def test_det_inferencer_takes_the_authors_file_behind_a_drive_like_page(
        served, reference_config, reference_image, check_reference_segments):
    server, body, _ = served
    url = server.add_drive_like('panoptic-fcn-reference', body)
    inferencer = DetInferencer(model=reference_config, weights=url, device='cpu')
    assert inferencer.model.dataset_meta['category_ids'] == list(COCO_PANOPTIC_CATEGORY_IDS)
    assert inferencer.model.dataset_meta['classes'][0] == 'person'
    sample = inferencer(reference_image, return_datasamples=True)['predictions'][0]
    check_reference_segments(sample, inferencer.model)


def test_init_detector_takes_the_plain_url_and_downloads_it_once(
        served, reference_config, reference_image, check_reference_segments):
    server, body, cache = served
    url = server.add('/weights/model_final.pth', body)
    model = init_detector(reference_config, url, device='cpu')
    check_reference_segments(inference_detector(model, reference_image), model)
    load_checkpoint(model, url, map_location='cpu', strict=True)
    assert server.requests == ['/weights/model_final.pth'] and len(os.listdir(cache)) == 1


def test_other_variants_and_architectures_are_refused_naming_the_url(served, reference_config):
    server, _, cache = served
    with open(osp.join(REFERENCE, 'weights_manifest_deform.json')) as f:
        deform = {key: torch.zeros(shape) for key, shape, _ in json.load(f)}
    resnet = {'conv1.weight': torch.zeros(64, 3, 7, 7), 'fc.weight': torch.zeros(1000, 2048)}
    model = init_detector(reference_config, None, device='cpu')
    for name, content, match in (
            ('dcn.pth', {'model': deform}, r"is an authors' Panoptic FCN checkpoint of variant 'default'"
             r"(.|\n)*the config builds variant 'plain'(.|\n)*position_head\.conv_cfg="
             r"dict\(type='SampledDCNv2'\)"),
            ('resnet50.pth', resnet, r"holds none of the model's \d+ state-dict keys")):
        buffer = io.BytesIO()
        torch.save(content, buffer)
        url = server.add(f'/{name}', buffer.getvalue())
        with pytest.raises(IncompatibleCheckpointError, match=f'^{re.escape(url)} {match}'):
            load_checkpoint(model, url, map_location='cpu')
    assert not [name for name in os.listdir(cache) if name.startswith('.')]
