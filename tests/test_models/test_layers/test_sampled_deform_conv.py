"""``SampledDCNv2`` computes mmcv's DCNv2 on CPU with grid_sample: same outputs and gradients."""
import pytest
import torch
from mmcv.cnn import build_conv_layer
from mmcv.ops import ModulatedDeformConv2dPack

from mmpfcn.models.layers import SampledModulatedDeformConv2dPack

# (in, out, kernel, stride, padding, dilation, groups, deform_groups, height, width)
CASES = [
    (4, 6, 3, 1, 1, 1, 1, 1, 7, 9),
    (8, 6, 3, 2, 1, 2, 2, 2, 11, 5),
    (6, 4, (3, 1), 1, (1, 0), 1, 1, 3, 6, 6),
    (4, 4, 3, 1, 1, 1, 1, 1, 1, 1),
]


def _pair(cin, cout, kernel, stride, padding, dilation, groups, deform_groups):
    torch.manual_seed(0)
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups,
                  deform_groups=deform_groups)
    reference = ModulatedDeformConv2dPack(cin, cout, kernel, **kwargs).double()
    # Offsets of about a pixel and masks away from 0.5, so the sampling really moves.
    torch.nn.init.normal_(reference.conv_offset.weight, std=0.5)
    torch.nn.init.normal_(reference.conv_offset.bias, std=1.0)
    sampled = SampledModulatedDeformConv2dPack(cin, cout, kernel, **kwargs).double()
    sampled.load_state_dict(reference.state_dict())
    return reference, sampled


@pytest.mark.parametrize('case', CASES)
def test_forward_and_backward_equal_mmcv(case):
    *layer, height, width = case
    reference, sampled = _pair(*layer)
    x = torch.randn(2, layer[0], height, width, dtype=torch.float64, requires_grad=True)
    expected, actual = reference(x), sampled(x)
    assert expected.abs().max() > 1e-3  # not trivially zero (a 1x1 input keeps one tap)
    torch.testing.assert_close(actual, expected, rtol=1e-10, atol=1e-10)
    weights = torch.randn_like(expected)
    grads_ref = torch.autograd.grad((expected * weights).sum(), [x, *reference.parameters()])
    grads_new = torch.autograd.grad((actual * weights).sum(), [x, *sampled.parameters()])
    for got, want in zip(grads_new, grads_ref):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


def test_float32_close_to_mmcv_on_a_pyramid_level():
    reference, sampled = _pair(32, 32, 3, 1, 1, 1, 1, 1)
    reference, sampled = reference.float(), sampled.float()
    x = torch.randn(1, 32, 25, 38)
    with torch.no_grad():
        torch.testing.assert_close(sampled(x), reference(x), rtol=1e-4, atol=1e-4)


def test_built_from_config_and_loads_dcnv2_checkpoints():
    conv = build_conv_layer(dict(type='SampledDCNv2'), 4, 8, 3, padding=1)
    assert type(conv) is SampledModulatedDeformConv2dPack
    dcn = build_conv_layer(dict(type='DCNv2'), 4, 8, 3, padding=1)
    assert conv.state_dict().keys() == dcn.state_dict().keys()
    conv.load_state_dict(dcn.state_dict())
    x = torch.randn(1, 4, 5, 6)
    with torch.no_grad():
        torch.testing.assert_close(conv(x), dcn(x), rtol=1e-5, atol=1e-5)


def test_bfloat16_autocast_samples_in_float32():
    """Under CPU autocast the sample positions stay float32: in bfloat16 a position such as 150.3 on
    a wide level would round to a whole pixel."""
    reference, sampled = _pair(16, 16, 3, 1, 1, 1, 1, 1)
    reference, sampled = reference.float(), sampled.float()
    torch.nn.init.normal_(reference.conv_offset.weight, std=0.05)  # offsets of about a pixel
    sampled.load_state_dict(reference.state_dict())
    x = torch.randn(1, 16, 6, 200).bfloat16()  # as a bfloat16 layer before it would give
    with torch.no_grad():
        expected = reference(x.float())
        with torch.autocast('cpu', dtype=torch.bfloat16):
            actual = sampled(x)
    assert actual.dtype == torch.bfloat16
    # bfloat16's own rounding of the convolutions (under 1 %), not whole-pixel sampling errors.
    assert (actual.float() - expected).norm() / expected.norm() < 1e-2
