"""mmpfcn's model zoo by name: metafile look-up, and MMEngine's inferencers
finding mmpfcn's models before their scope's."""
import os.path as osp

import pytest
import yaml
from mmengine.infer import BaseInferencer

import mmpfcn  # noqa: F401  (installs the metafile look-up)
from mmpfcn.utils.model_index import (UnknownModelError, find_model,
                                      install_metafile_model_lookup,
                                      iter_models, model_index_path)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
R50_1X = 'panoptic-fcn_r50_fpn_8xb2-ms-1x_coco'


def test_index_is_the_repository_s():
    assert model_index_path() == osp.join(ROOT, 'model-index.yml')


def test_every_metafile_model_is_indexed_with_an_existing_config():
    with open(osp.join(ROOT, 'configs', 'panoptic_fcn', 'metafile.yml')) as f:
        metafile = yaml.safe_load(f)
    entries = list(iter_models())
    assert [e.raw for e in entries] == metafile['Models']
    for entry in entries:
        assert osp.isabs(entry.config) and osp.isfile(entry.config)
        # The authors' COCO weights; the other datasets' models have none yet and say so.
        if entry.raw['Metadata']['Training Data'] == 'COCO':
            assert entry.weights.startswith('https://')
        else:
            assert entry.weights is None
            assert entry.raw['Metadata']['Reproduced'].startswith('no:')


@pytest.mark.parametrize(
    'name', [R50_1X, 'panoptic-fcn_r50_fpn_1x_coco', R50_1X.upper()])
def test_name_or_alias_finds_the_entry(name):
    entry = find_model(name)
    assert entry.name == R50_1X
    assert entry.aliases == ('panoptic-fcn_r50_fpn_1x_coco', )
    assert entry.config == osp.join(ROOT, 'configs', 'panoptic_fcn',
                                    R50_1X + '.py')
    assert entry.weights == entry.raw['Weights']


def test_unknown_name_names_it_and_the_closest_known():
    with pytest.raises(UnknownModelError) as error:
        find_model('panoptic-fcn_r50_fpn_2x_coco')
    message = str(error.value)
    assert message.startswith("Unknown model 'panoptic-fcn_r50_fpn_2x_coco'")
    assert 'closest known names: ' in message
    assert 'panoptic-fcn_r50_fpn_1x_coco' in message
    # Caught as a failed look-up and as MMEngine's own unknown-model error.
    assert isinstance(error.value, KeyError)
    assert isinstance(error.value, ValueError)


def test_inferencer_lookup_is_patched_once():
    lookup = BaseInferencer._load_model_from_metafile
    assert lookup._mmpfcn_model_index
    install_metafile_model_lookup()
    assert BaseInferencer._load_model_from_metafile is lookup
