"""mmcv's modulated deformable conv follows detectron2's offset/mask layout, so converted
``offset_mask_conv`` weights mean the same thing.

The reference below implements DCNv2 from its definition in detectron2's convention: the 27-channel
offset/mask conv output is split in thirds, offsets = cat(first, second) with channels
``2k`` = dy and ``2k + 1`` = dx for kernel tap ``k`` (row-major), mask = sigmoid(third)[k];
samples are bilinear with zeros outside the image.
"""
import torch
import torch.nn.functional as F
from mmcv.ops import ModulatedDeformConv2dPack


def reference_dcnv2(x, offset_mask, weight, bias):
    n, c, h, w = x.shape
    o1, o2, mask = torch.chunk(offset_mask, 3, dim=1)
    offset, mask = torch.cat([o1, o2], 1), mask.sigmoid()
    ys, xs = torch.meshgrid(torch.arange(h, dtype=x.dtype), torch.arange(w, dtype=x.dtype), indexing='ij')
    out = torch.zeros(n, weight.shape[0], h, w, dtype=x.dtype)
    for k in range(9):
        i, j = divmod(k, 3)
        py = ys - 1 + i + offset[:, 2 * k]
        px = xs - 1 + j + offset[:, 2 * k + 1]
        grid = torch.stack([2 * px / (w - 1) - 1, 2 * py / (h - 1) - 1], -1)
        sampled = F.grid_sample(x, grid, mode='bilinear', padding_mode='zeros', align_corners=True)
        out += torch.einsum('oc,nchw->nohw', weight[:, :, i, j], sampled * mask[:, k:k + 1])
    return out + bias.view(1, -1, 1, 1)


def test_mmcv_dcnv2_matches_detectron2_layout():
    torch.manual_seed(0)
    conv = ModulatedDeformConv2dPack(4, 5, 3, padding=1, bias=True).double()
    torch.nn.init.normal_(conv.conv_offset.weight, std=0.3)
    torch.nn.init.normal_(conv.conv_offset.bias, std=0.5)
    x = torch.randn(2, 4, 7, 9, dtype=torch.float64)
    offset_mask = conv.conv_offset(x)
    assert offset_mask.abs()[:, :18].mean() > 0.5  # offsets of around a pixel really move the taps
    expected = reference_dcnv2(x, offset_mask, conv.weight, conv.bias)
    torch.testing.assert_close(conv(x), expected, rtol=1e-9, atol=1e-9)
    # Swapping dy and dx (SOLO/torchvision-style x-first layouts) gives a different result.
    swapped = offset_mask.clone()
    swapped[:, 0:18:2], swapped[:, 1:18:2] = offset_mask[:, 1:18:2], offset_mask[:, 0:18:2]
    assert not torch.allclose(conv(x), reference_dcnv2(x, swapped, conv.weight, conv.bias))
