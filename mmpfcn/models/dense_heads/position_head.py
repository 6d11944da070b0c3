"""Position head of Panoptic FCN: where things are (centres) and stuff is (regions)."""
from typing import Tuple

from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.model import BaseModule, normal_init
from torch import Tensor, nn

from ..layers import append_coordinates, conv_tower


@MODELS.register_module()
class PositionHead(BaseModule):
    """Object-centre heatmaps and stuff-region maps of one FPN level (paper Sec. 3.2).

    A tower of 3x3 convs (optionally deformable) feeds two outputs: a heatmap
    per thing class and a region map per stuff class plus one merged "things"
    region (channel 0, internal to the head). It is shared by all levels.

    Args:
        num_things_classes (int): Thing classes (T), the centre channels.
        num_stuff_classes (int): Stuff classes (S); region maps have S + 1 channels.
        in_channels (int): Channels of the FPN levels.
        feat_channels (int): Channels of the tower.
        num_convs (int): Convs of the tower.
        norm_cfg (dict): Norm of the tower.
        conv_cfg (dict, optional): Conv of the tower, ``dict(type='SampledDCNv2')``
            for modulated deformable convs (the authors' POSITION_HEAD.DEFORM).
        with_coord (bool): Append coordinates before the tower.
        shared_tower (bool): Centre and region maps share the tower, as in the
            paper; False gives the region maps a tower of their own
            (``region_convs``, same form), so that the two tasks stop competing
            for its channels.
        bias_value (float): Initial bias of both outputs (prior probability 0.1).
    """

    def __init__(self,
                 num_things_classes: int = 80,
                 num_stuff_classes: int = 53,
                 in_channels: int = 256,
                 feat_channels: int = 256,
                 num_convs: int = 3,
                 norm_cfg: ConfigType = dict(type='GN', num_groups=32, requires_grad=True),
                 conv_cfg: OptConfigType = None,
                 with_coord: bool = False,
                 shared_tower: bool = True,
                 bias_value: float = -2.19,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.with_coord = with_coord
        self.bias_value = bias_value
        tower_in = in_channels + 2 * with_coord
        self.convs = conv_tower(tower_in, feat_channels, num_convs, norm_cfg, conv_cfg)
        self.region_convs = None if shared_tower else conv_tower(
            tower_in, feat_channels, num_convs, norm_cfg, conv_cfg)
        self.center_conv = nn.Conv2d(feat_channels, num_things_classes, 3, padding=1)
        self.region_conv = nn.Conv2d(feat_channels, num_stuff_classes + 1, 3, padding=1)

    def init_weights(self) -> None:
        """Initialise the outputs as the authors do (normal 0.01, prior bias)."""
        super().init_weights()
        for conv in (self.center_conv, self.region_conv):
            normal_init(conv, std=0.01, bias=self.bias_value)

    def forward(self, feat: Tensor) -> Tuple[Tensor, Tensor]:
        """Centre logits ``(B, T, h, w)`` and region logits ``(B, 1+S, h, w)`` of one level."""
        x = append_coordinates(feat) if self.with_coord else feat
        centers = self.convs(x)
        regions = centers if self.region_convs is None else self.region_convs(x)
        return self.center_conv(centers), self.region_conv(regions)
