"""A stack of 3x3 conv + norm + ReLU blocks, the towers of Panoptic FCN's heads."""
from mmcv.cnn import ConvModule
from mmdet.utils import OptConfigType
from torch import nn


def conv_tower(in_channels: int, channels: int, num_convs: int, norm_cfg: OptConfigType = None,
               conv_cfg: OptConfigType = None) -> nn.Sequential:
    """``num_convs`` 3x3 ``ConvModule`` blocks (``in_channels`` -> ``channels`` -> ... ->
    ``channels``); ``conv_cfg=dict(type='SampledDCNv2')`` makes them deformable."""
    return nn.Sequential(*(
        ConvModule(in_channels if k == 0 else channels, channels, 3, padding=1,
                   conv_cfg=conv_cfg, norm_cfg=norm_cfg) for k in range(num_convs)))
