"""High-resolution encoded feature of Panoptic FCN."""
import math
from typing import Optional, Sequence, Tuple

import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor, nn

from ..layers import append_coordinates, conv_tower


@MODELS.register_module()
class FeatureEncoder(BaseModule):
    """Semantic-FPN fusion of P2-P5 followed by a coord-conv encoder.

    Each input level gets ``max(1, log2(stride / common_stride))`` blocks of
    [3x3 conv + norm + ReLU], each followed by a bilinear x2 upsampling unless
    the level is already at ``common_stride``; the results are summed. The
    encoder then appends coordinate channels and applies ``num_convs`` 3x3
    convs with ReLU, giving the ``out_channels`` (Ce) feature that thing and
    stuff kernels are convolved with (paper Sec. 3.3, Tables 2, 4, 5, 8).

    Upsampling is linear, so the coarser levels are summed before their last
    upsampling and share one: the same sum as upsampling each level, at a
    third of the cost of that stage for P3-P5 (the largest maps of the neck).

    Args:
        in_channels (int): Channels of the FPN levels.
        in_indices (Sequence[int]): Which FPN outputs to fuse (P2-P5).
        in_strides (Sequence[int]): Their strides.
        common_stride (int): Stride of the fused map.
        fpn_channels (int): Channels of the semantic-FPN blocks.
        out_channels (int): Channels of the encoded feature (Ce).
        num_convs (int): Encoder convs.
        with_coord (bool): Append coordinates before the encoder.
        norm_cfg (dict): Norm of the semantic-FPN blocks.
        encoder_norm_cfg (dict, optional): Norm of the encoder convs.
        encoder_conv_cfg (dict, optional): Conv type of the encoder convs,
            e.g. ``dict(type='DCNv2')`` for the enhanced (``*``) variant.
    """

    def __init__(self,
                 in_channels: int = 256,
                 in_indices: Sequence[int] = (0, 1, 2, 3),
                 in_strides: Sequence[int] = (4, 8, 16, 32),
                 common_stride: int = 4,
                 fpn_channels: int = 256,
                 out_channels: int = 64,
                 num_convs: int = 3,
                 with_coord: bool = True,
                 norm_cfg: ConfigType = dict(type='GN', num_groups=32, requires_grad=True),
                 encoder_norm_cfg: OptConfigType = None,
                 encoder_conv_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(in_indices) != len(in_strides):
            raise ValueError('FeatureEncoder: in_indices and in_strides must have the same '
                             f'length, got {tuple(in_indices)} and {tuple(in_strides)}')
        self.in_indices = tuple(in_indices)
        self.with_coord = with_coord
        self.out_channels = out_channels
        self.scale_heads = nn.ModuleList()
        # Heads whose output still needs the shared last x2 upsampling.
        self.upsampled = tuple(stride != common_stride for stride in in_strides)
        for stride, upsampled in zip(in_strides, self.upsampled):
            num_blocks = max(1, int(math.log2(stride) - math.log2(common_stride)))
            layers = []
            for k in range(num_blocks):
                if k > 0:
                    layers.append(nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False))
                layers.append(
                    ConvModule(
                        in_channels if k == 0 else fpn_channels,
                        fpn_channels,
                        3,
                        padding=1,
                        norm_cfg=norm_cfg))
            self.scale_heads.append(nn.Sequential(*layers))
        self.encode_convs = conv_tower(fpn_channels + 2 * with_coord, out_channels, num_convs,
                                       encoder_norm_cfg, encoder_conv_cfg)

    def forward(self, feats: Tuple[Tensor, ...]) -> Tensor:
        """Fuse the selected FPN levels and encode them at ``common_stride``."""
        fused: Optional[Tensor] = None  # levels at the common stride
        coarse: Optional[Tensor] = None  # levels one x2 upsampling short of it
        for head, index, upsampled in zip(self.scale_heads, self.in_indices, self.upsampled):
            out = head(feats[index])
            if upsampled:
                coarse = out if coarse is None else coarse + out
            else:
                fused = out if fused is None else fused + out
        if coarse is not None:
            coarse = F.interpolate(coarse, scale_factor=2, mode='bilinear', align_corners=False)
            fused = coarse if fused is None else fused + coarse
        return self.encode_convs(append_coordinates(fused) if self.with_coord else fused)
