"""Every loaded checkpoint in MMEngine's form: the authors' files re-wrapped with COCO
panoptic's dataset_meta, every state dict naming its source."""
from collections import OrderedDict

import torch
from mmengine.runner.checkpoint import CheckpointLoader

import mmpfcn  # noqa: F401  (guards CheckpointLoader)
from mmpfcn.utils.checkpoint_format import (AUTHORS_HEAD_KEYS, as_mmengine_checkpoint,
                                            checkpoint_source, is_authors_state_dict)
from mmpfcn.utils.coco_panoptic_meta import COCO_PANOPTIC_CATEGORY_IDS


def authors_state() -> dict:
    return {key: torch.zeros(1) for key in ('backbone.bottom_up.stem.conv1.weight', *AUTHORS_HEAD_KEYS)}


def test_authors_file_becomes_an_mmengine_checkpoint(tmp_path):
    path = str(tmp_path / 'model_final.pth')
    torch.save({'model': authors_state(), 'iteration': 90000}, path)
    checkpoint = CheckpointLoader.load_checkpoint(path)
    assert set(checkpoint) == {'state_dict', 'meta'}
    assert set(checkpoint['state_dict']) == set(authors_state())
    assert checkpoint['meta']['dataset_meta']['category_ids'] == list(COCO_PANOPTIC_CATEGORY_IDS)
    assert checkpoint_source(checkpoint['state_dict']._metadata['']) == path
    # The bare state dict, as some re-uploads carry it, is recognised too.
    bare = as_mmengine_checkpoint(authors_state(), 'bare.pth')
    assert 'dataset_meta' in bare['meta'] and is_authors_state_dict(bare['state_dict'])


def test_other_checkpoints_keep_their_content_and_metadata():
    state = OrderedDict(weight=torch.ones(2))
    state._metadata = OrderedDict({'': {'version': 1}, 'child': {'version': 2}})
    checkpoint = {'state_dict': state, 'meta': {'epoch': 3}, 'optimizer': {}}
    loaded = as_mmengine_checkpoint(checkpoint, 'work_dirs/epoch_3.pth')
    assert loaded['meta'] == {'epoch': 3} and 'optimizer' in loaded
    assert torch.equal(loaded['state_dict']['weight'], state['weight'])
    metadata = loaded['state_dict']._metadata
    assert metadata['child'] == {'version': 2}
    assert metadata[''] == {'version': 1, 'source': 'work_dirs/epoch_3.pth'}
    plain = as_mmengine_checkpoint({'conv.weight': torch.ones(1)}, 'resnet.pth')
    assert checkpoint_source(plain._metadata['']) == 'resnet.pth'
    assert checkpoint_source({}) == 'the checkpoint'
    assert as_mmengine_checkpoint([1, 2], 'list.pth') == [1, 2]
    assert not is_authors_state_dict({'model': authors_state()})
