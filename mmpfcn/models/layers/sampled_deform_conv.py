"""mmcv's DCNv2 with a batched, multi-threaded CPU path.

mmcv's CPU ``modulated_deform_conv2d`` gathers its columns (im2col) in a
single-threaded scalar loop; at 800x1216 the three deformable convs of Panoptic
FCN's position tower spend more time there than the whole ResNet-50. On CPU
this module computes the same convolution as one weighted gather and one 1x1
convolution: every (output position, tap) sample is the sum of its four
bilinear corners times (bilinear weight x modulation mask), which is
``F.embedding_bag`` over the channels-last input (fbgemm, threaded); the
samples, laid out channels-last as ``(tap, channel)`` columns, then meet the
reordered weight in a 1x1 ``F.conv2d`` (oneDNN). On other devices it runs
mmcv's kernel unchanged. Parameters, state dict and outputs are those of
``mmcv.ops.ModulatedDeformConv2dPack`` (detectron2's offset layout: channels
``2k`` / ``2k + 1`` are the dy / dx of kernel tap ``k``; samples outside the
input are zero).
"""
from functools import partial
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmcv.ops import ModulatedDeformConv2dPack
from mmdet.registry import MODELS
from torch import Tensor


def _output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _bilinear_corners(pos_y: Tensor, pos_x: Tensor, mask: Tensor, height: int,
                      width: int) -> Tuple[Tensor, Tensor]:
    """Flat indices ``(..., 4)`` into an ``H * W + 1`` row table (row ``H * W`` is
    zero, for corners outside the input) and their weights (bilinear x mask)."""
    y0, x0 = pos_y.detach().floor(), pos_x.detach().floor()
    frac_y, frac_x = pos_y - y0, pos_x - x0
    outside = torch.full_like(y0, height * width)
    indices, weights = [], []
    for dy, weight_y in ((0, 1 - frac_y), (1, frac_y)):
        for dx, weight_x in ((0, 1 - frac_x), (1, frac_x)):
            y, x = y0 + dy, x0 + dx
            inside = (y >= 0) & (y <= height - 1) & (x >= 0) & (x <= width - 1)
            indices.append(torch.where(inside, y * width + x, outside))
            weights.append(weight_y * weight_x * mask * inside)
    return torch.stack(indices, -1).long(), torch.stack(weights, -1)


def sampled_modulated_deform_conv2d(x: Tensor, offset: Tensor, mask: Tensor, weight: Tensor,
                                    bias: Optional[Tensor], stride: Tuple[int, int],
                                    padding: Tuple[int, int], dilation: Tuple[int, int],
                                    groups: int, deform_groups: int) -> Tensor:
    """Modulated deformable convolution as one weighted gather and one 1x1 conv.

    Args:
        x (Tensor): ``(B, C, H, W)`` input.
        offset (Tensor): ``(B, 2 * dg * K, Ho, Wo)`` offsets, ``(dy, dx)`` per tap.
        mask (Tensor): ``(B, dg * K, Ho, Wo)`` modulation (already a sigmoid).
        weight (Tensor): ``(Cout, C / groups, kh, kw)``.
        bias (Tensor, optional): ``(Cout, )``.
        stride, padding, dilation (tuple[int, int]): As ``nn.Conv2d``.
        groups (int): Convolution groups.
        deform_groups (int): Channel groups sharing one set of offsets.

    Returns:
        Tensor: ``(B, Cout, Ho, Wo)``.
    """
    # Sample positions and values in at least float32: in bfloat16 (autocast)
    # a position of 150.3 would round to a whole pixel.
    dtype = torch.promote_types(torch.promote_types(x.dtype, offset.dtype), torch.float32)
    x, offset, mask = x.to(dtype), offset.to(dtype), mask.to(dtype)
    num_imgs, channels, height, width = x.shape
    out_channels, _, kh, kw = weight.shape
    taps, dg = kh * kw, deform_groups
    out_h = _output_size(height, kh, stride[0], padding[0], dilation[0])
    out_w = _output_size(width, kw, stride[1], padding[1], dilation[1])
    coords = partial(torch.arange, device=x.device, dtype=x.dtype)
    tap_y = (coords(kh) * dilation[0]).repeat_interleave(kw)
    tap_x = (coords(kw) * dilation[1]).repeat(kh)
    base_y = coords(out_h) * stride[0] - padding[0]
    base_x = coords(out_w) * stride[1] - padding[1]
    # Sample positions ordered (image x deform group, Ho, Wo, tap).
    offset = offset.reshape(num_imgs * dg, taps, 2, out_h, out_w).permute(0, 3, 4, 1, 2)
    pos_y = base_y[:, None, None] + tap_y + offset[..., 0]
    pos_x = base_x[None, :, None] + tap_x + offset[..., 1]
    mask = mask.reshape(num_imgs * dg, taps, out_h, out_w).permute(0, 2, 3, 1)
    indices, weights = _bilinear_corners(pos_y, pos_x, mask, height, width)
    # One table of channels-last rows, each (image, deform group) followed by its zero row.
    table = F.pad(x.reshape(num_imgs * dg, channels // dg, height * width).transpose(1, 2),
                  (0, 0, 0, 1)).reshape(-1, channels // dg)
    first_row = torch.arange(num_imgs * dg, device=x.device) * (height * width + 1)
    indices = indices + first_row.view(-1, 1, 1, 1, 1)
    indices, weights = indices.reshape(-1, 4), weights.reshape(-1, 4)
    if torch.onnx.is_in_onnx_export():
        # ONNX has no weighted embedding_bag: the same sum, corner by corner, from Gather.
        samples = sum(table[indices[:, corner]] * weights[:, corner, None] for corner in range(4))
    else:
        samples = F.embedding_bag(indices, table, mode='sum', per_sample_weights=weights)
    # Columns (B, Ho, Wo, groups, tap, C / groups) as a channels-last NCHW view.
    samples = samples.view(num_imgs, dg, out_h * out_w, taps, channels // dg)
    samples = samples.permute(0, 2, 3, 1, 4).reshape(num_imgs, out_h * out_w, taps, groups,
                                                     channels // groups)
    columns = samples.transpose(2, 3).reshape(num_imgs, out_h, out_w, -1).permute(0, 3, 1, 2)
    kernel = weight.permute(0, 2, 3, 1).reshape(out_channels, -1, 1, 1)
    return F.conv2d(columns, kernel, bias, groups=groups).contiguous()


@MODELS.register_module('SampledDCNv2')
class SampledModulatedDeformConv2dPack(ModulatedDeformConv2dPack):
    """``mmcv.ops.ModulatedDeformConv2dPack`` (``DCNv2``) with the CPU path above.

    A drop-in replacement: same constructor, parameters and checkpoints; use
    ``conv_cfg=dict(type='SampledDCNv2')`` where a config says ``DCNv2``. An
    ONNX export takes this form on any device, its weighted sum from
    ``Gather``.
    """

    def forward(self, x: Tensor) -> Tensor:
        if x.device.type != 'cpu' and not torch.onnx.is_in_onnx_export():
            return super().forward(x)
        out = self.conv_offset(x)
        dy_dx_a, dy_dx_b, mask = torch.chunk(out, 3, dim=1)
        return sampled_modulated_deform_conv2d(
            x, torch.cat((dy_dx_a, dy_dx_b), dim=1), mask.sigmoid(), self.weight, self.bias,
            self.stride, self.padding, self.dilation, self.groups, self.deform_groups)
