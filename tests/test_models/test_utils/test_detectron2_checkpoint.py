"""The authors' state dicts: variants told apart by their keys, converted for a target model's
keys and shapes, and refused with the options to set when they do not fit (on the fixture's
key manifests, without building a model)."""
import json
import os.path as osp
import re

import pytest
import torch

from mmpfcn.models.utils import (IncompatibleCheckpointError, Variant, authors_variant,
                                 convert_for_model, convert_in_place)
from mmpfcn.models.utils.detectron2_checkpoint import rename_key

REFERENCE = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'data',
                     'panopticfcn_reference')


def manifest(name: str) -> dict:
    with open(osp.join(REFERENCE, name)) as f:
        return {key: torch.zeros(shape) for key, shape, _ in json.load(f)}


def star(source: dict) -> dict:
    """``source`` with a deformable feature encoder, as Panoptic FCN* has."""
    star_source = {}
    for key, value in source.items():
        m = re.match(r'^(feature_encoder\.encode_head\.encode_head_head_\d+)\.(weight|bias)$', key)
        if m:
            star_source[f'{m.group(1)}.offset_mask_conv.weight'] = torch.zeros(27, 1, 3, 3)
            star_source[f'{m.group(1)}.offset_mask_conv.bias'] = torch.zeros(27)
            key = f'{m.group(1)}.dcnv2.{m.group(2)}'
        star_source[key] = value
    return star_source


def shapes_of(source: dict) -> dict:
    """Target keys and shapes of the mmpfcn model that fits ``source`` exactly."""
    return {rename_key(key): value.shape for key, value in source.items()}


PLAIN = manifest('weights_manifest.json')
DEFORM = manifest('weights_manifest_deform.json')


def test_variants_are_told_apart_by_their_keys():
    assert authors_variant(PLAIN) == Variant(False, False) and authors_variant(PLAIN).name == 'plain'
    assert authors_variant(DEFORM).name == 'default'
    assert authors_variant(star(DEFORM)) == Variant(True, True)
    assert authors_variant(star(DEFORM)).name == 'star'
    assert Variant.of(shapes_of(DEFORM)).name == 'default'
    assert 'deformable position head' in Variant(True, False).describe()


@pytest.mark.parametrize('source', [PLAIN, DEFORM, star(DEFORM)])
def test_each_variant_converts_for_its_own_model(source):
    state = convert_for_model(source, shapes_of(source))
    assert list(state) == list(shapes_of(source))


def test_dcn_weights_into_a_plain_model_name_both_and_the_option():
    with pytest.raises(IncompatibleCheckpointError) as info:
        convert_for_model(DEFORM, shapes_of(PLAIN), 'panoptic_fcn_r50_1x.pth')
    message = str(info.value)
    assert message.startswith("panoptic_fcn_r50_1x.pth is an authors' Panoptic FCN checkpoint of "
                              "variant 'default' (deformable position head")
    assert "the config builds variant 'plain'" in message
    assert 'kernel_generator.position_head.convs.0.conv.conv_offset.weight' in message
    assert "set model.kernel_generator.position_head.conv_cfg=dict(type='SampledDCNv2')" in message
    with pytest.raises(IncompatibleCheckpointError, match='position_head.conv_cfg=None'):
        convert_for_model(PLAIN, shapes_of(DEFORM))
    with pytest.raises(IncompatibleCheckpointError, match=r"variant 'star'(.|\n)*"
                       r"feature_encoder\.encoder_conv_cfg=dict\(type='SampledDCNv2'\)"):
        convert_for_model(star(DEFORM), shapes_of(DEFORM))


def test_leftover_keys_and_shapes_are_listed_with_the_source():
    with pytest.raises(IncompatibleCheckpointError, match=r'x\.pth: (.|\n)*source keys no rule maps '
                       r'\(1\):\n  extra\.key'):
        convert_for_model({**PLAIN, 'extra.key': torch.zeros(1)}, shapes_of(PLAIN), 'x.pth')
    shapes = {**shapes_of(PLAIN), 'kernel_generator.kernel_head.thing_embed.bias': torch.Size([256])}
    with pytest.raises(IncompatibleCheckpointError, match='shape mismatches'):
        convert_for_model(PLAIN, shapes)


def test_convert_in_place_under_a_prefix():
    state = {f'module.{key}': value for key, value in PLAIN.items()}
    state['other.weight'] = torch.ones(1)
    convert_in_place(state, 'module.', shapes_of(PLAIN))
    assert set(state) == {f'module.{key}' for key in shapes_of(PLAIN)} | {'other.weight'}
    converted = dict(state)
    convert_in_place(state, 'module.', shapes_of(PLAIN))
    assert state == converted


def test_a_state_dict_of_another_architecture_is_refused_with_its_name():
    resnet = {'conv1.weight': torch.zeros(1), 'layer1.0.conv1.weight': torch.zeros(1)}
    with pytest.raises(IncompatibleCheckpointError, match=r"resnet50\.pth holds none of the model's "
                       r'\d+ state-dict keys(.|\n)*start with conv1, layer1'):
        convert_in_place(resnet, '', shapes_of(PLAIN), 'resnet50.pth')
