"""Kernel head of Panoptic FCN: a kernel at every position, and its thing / stuff embeddings."""
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptMultiConfig
from mmengine.model import BaseModule, normal_init
from torch import Tensor, nn

from ..layers import append_coordinates, conv_tower


@MODELS.register_module()
class KernelHead(BaseModule):
    """Kernel features of one FPN level and the embeddings that turn kernels into mask weights.

    A coord-conv tower predicts a ``feat_channels`` kernel at every position
    (paper Sec. 3.2). Two 1x1 convs, the authors' ThingGenerator and
    StuffGenerator ``embed_extractor``, embed thing and stuff kernels into
    ``embed_channels`` (Ce) weights that are convolved with the encoded
    feature to give masks (Sec. 3.3). The losses and inference both embed
    through :meth:`embed_things` and :meth:`embed_stuff`.

    Args:
        in_channels (int): Channels of the FPN levels.
        feat_channels (int): Channels of the tower and of the kernels.
        embed_channels (int): Ce, channels of the embedded kernels.
        num_convs (int): Convs of the tower.
        norm_cfg (dict): Norm of the tower.
        with_coord (bool): Append coordinates before the tower.
    """

    def __init__(self,
                 in_channels: int = 256,
                 feat_channels: int = 256,
                 embed_channels: int = 64,
                 num_convs: int = 3,
                 norm_cfg: ConfigType = dict(type='GN', num_groups=32, requires_grad=True),
                 with_coord: bool = True,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.with_coord = with_coord
        self.convs = conv_tower(in_channels + 2 * with_coord, feat_channels, num_convs, norm_cfg)
        self.out_conv = nn.Conv2d(feat_channels, feat_channels, 3, padding=1)
        self.thing_embed = nn.Conv2d(feat_channels, embed_channels, 1)
        self.stuff_embed = nn.Conv2d(feat_channels, embed_channels, 1)

    def init_weights(self) -> None:
        """Initialise the output and embedding convs as the authors do (normal 0.01, bias 0)."""
        super().init_weights()
        for conv in (self.out_conv, self.thing_embed, self.stuff_embed):
            normal_init(conv, std=0.01, bias=0)

    def forward(self, feat: Tensor) -> Tensor:
        """Kernel features ``(B, C, h, w)`` of one level."""
        x = append_coordinates(feat) if self.with_coord else feat
        return self.out_conv(self.convs(x))

    def embed_things(self, kernels: Tensor) -> Tensor:
        """Embed ``(..., C)`` thing kernels into ``(..., Ce)`` mask weights (the 1x1 conv)."""
        return F.linear(kernels, self.thing_embed.weight.flatten(1), self.thing_embed.bias)

    def embed_stuff(self, kernels: Tensor) -> Tensor:
        """Embed ``(..., C)`` stuff kernels into ``(..., Ce)`` mask weights (the 1x1 conv)."""
        return F.linear(kernels, self.stuff_embed.weight.flatten(1), self.stuff_embed.bias)
