"""mmcv's compiled CPU ops: ModulatedDeformConv2dPack forward and backward."""
import torch
import torch.nn.functional as F
from mmcv.ops import ModulatedDeformConv2dPack
from torch.func import functional_call


def make_dcn(seed: int = 0) -> torch.nn.Module:
    """A float64 3x3 modulated deformable conv, 2 -> 2 channels."""
    torch.manual_seed(seed)
    return ModulatedDeformConv2dPack(2, 2, kernel_size=3, padding=1).double()


def test_modulated_deform_conv_forward_matches_shifted_conv():
    """With offsets fixed to one pixel right and mask logits 0, the op is
    half a plain convolution of the input shifted left."""
    dcn = make_dcn()
    num_points = 9
    with torch.no_grad():
        dcn.conv_offset.weight.zero_()
        dcn.conv_offset.bias.zero_()
        # Offset channels hold (dy, dx) per kernel point; set every dx to 1.
        dcn.conv_offset.bias[1:2 * num_points:2] = 1.0
    x = torch.randn(1, 2, 5, 6, dtype=torch.float64)

    out = dcn(x)

    # Sampling column j + k - 1 + 1 equals a valid conv over x padded with
    # two zero columns on the right and one zero row above and below.
    shifted = F.pad(x, (0, 2, 1, 1))
    expected = 0.5 * F.conv2d(shifted, dcn.weight) + dcn.bias.view(1, -1, 1, 1)
    torch.testing.assert_close(out, expected)


def test_modulated_deform_conv_gradients_match_finite_differences():
    """Analytic gradients w.r.t. input, weights and the offset/mask conv agree
    with central differences, with non-zero (fractional) offsets."""
    dcn = make_dcn(seed=1)
    with torch.no_grad():
        dcn.conv_offset.weight.normal_(std=0.3)
        dcn.conv_offset.bias.uniform_(-0.4, 0.4)
    x = torch.randn(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    names = ('weight', 'bias', 'conv_offset.weight', 'conv_offset.bias')
    params = tuple(
        dcn.get_parameter(name).detach().clone().requires_grad_()
        for name in names)

    offsets = dcn.conv_offset(x)[:, :18]
    assert offsets.abs().mean() > 0.1, 'offsets must really be exercised'

    def forward(inputs, *values):
        return functional_call(dcn, dict(zip(names, values)), (inputs, ))

    assert torch.autograd.gradcheck(
        forward, (x, ) + params, eps=1e-6, atol=1e-5, rtol=1e-4)
