"""GPU paths for mmcv's operators where mmcv was built without CUDA kernels.

mmcv 2.1.0 ships no wheel for current torch releases, and building all of its
CUDA operators takes long on a fresh GPU machine. Built with its C++ (CPU)
operators alone (``scripts/install_cuda.sh``), mmcv fails on a CUDA tensor
in the few operators that Panoptic FCN and the models it is compared with use.
:func:`install_mmcv_cuda_fallbacks` sends those calls to PyTorch code or to
kernels the installed torchvision already has, with the same results:

- modulated and plain deformable convolution (Panoptic FCN's ``SampledDCNv2``
  off the CPU, MMDetection's DCN backbones): the weighted gather and 1x1
  convolution of :func:`.sampled_modulated_deform_conv2d`, plain PyTorch on
  any device (a plain DCN is one with a modulation of ones);
- ``RoIAlign`` (Panoptic FPN's RoI heads): ``torchvision.ops.roi_align``;
- ``nms`` (their RPN): ``torchvision.ops.nms``, mmcv's legacy ``offset=1``
  emulated by widening every box by one pixel;
- ``MultiScaleDeformableAttention`` (Mask2Former's pixel decoder): mmcv's
  own PyTorch path (``grid_sample``), which it otherwise takes on CPU only.

Calls on other devices (the CPU) keep mmcv's kernels. Nothing is patched
where mmcv has CUDA operators or no GPU is present.
"""
import functools
import importlib
from typing import Any, Callable, Iterable, Optional, Sequence

import torch
from torch import Tensor
from torch.nn.modules.utils import _pair

from .sampled_deform_conv import sampled_modulated_deform_conv2d

FALLBACK_DEVICES = ('cuda', )


@functools.lru_cache(maxsize=None)
def mmcv_has_cuda_ops() -> bool:
    """Whether mmcv's compiled operators include CUDA kernels."""
    from mmcv.ops import get_compiling_cuda_version
    return get_compiling_cuda_version() != 'not available'


def _routed(tensor: Tensor, devices: Sequence[str]) -> bool:
    return tensor.device.type in devices


def _torchvision_ops(operator: str) -> Any:
    """``torchvision.ops``, or an error that says what needs it."""
    try:
        import torchvision.ops
    except ImportError as error:
        raise ImportError(
            f'mmcv was built without CUDA kernels, and its {operator} on a GPU needs '
            f'torchvision: install the torchvision release of torch {torch.__version__}, or '
            'build mmcv with its CUDA operators (docs/get_started.md, "On a GPU")') from error
    return torchvision.ops


def _modulated_deform_conv2d(original: Callable, devices: Sequence[str]) -> Callable:
    """mmcv's ``modulated_deform_conv2d`` in PyTorch on ``devices``."""

    def modulated_deform_conv2d(input: Tensor, offset: Tensor, mask: Tensor, weight: Tensor,
                                bias: Optional[Tensor] = None, stride: Any = 1,
                                padding: Any = 0, dilation: Any = 1, groups: int = 1,
                                deform_groups: int = 1) -> Tensor:
        if not _routed(input, devices):
            return original(input, offset, mask, weight, bias, stride, padding, dilation,
                            groups, deform_groups)
        return sampled_modulated_deform_conv2d(input, offset, mask, weight, bias,
                                               _pair(stride), _pair(padding), _pair(dilation),
                                               groups, deform_groups)

    return modulated_deform_conv2d


def _deform_conv2d(original: Callable, devices: Sequence[str]) -> Callable:
    """mmcv's ``deform_conv2d`` (DCNv1, no bias) in PyTorch on ``devices``: the
    modulated convolution with a modulation of ones."""

    def deform_conv2d(input: Tensor, offset: Tensor, weight: Tensor, stride: Any = 1,
                      padding: Any = 0, dilation: Any = 1, groups: int = 1,
                      deform_groups: int = 1, bias: bool = False,
                      im2col_step: int = 32) -> Tensor:
        if not _routed(input, devices):
            return original(input, offset, weight, stride, padding, dilation, groups,
                            deform_groups, bias, im2col_step)
        ones = offset.new_ones(offset.shape[0], offset.shape[1] // 2, *offset.shape[2:])
        return sampled_modulated_deform_conv2d(input, offset, ones, weight, None,
                                               _pair(stride), _pair(padding), _pair(dilation),
                                               groups, deform_groups)

    return deform_conv2d


def _roi_align(original: Callable, devices: Sequence[str]) -> Callable:
    """mmcv's ``roi_align`` with torchvision's on ``devices`` (average pooling only)."""

    def roi_align(input: Tensor, rois: Tensor, output_size: Any, spatial_scale: float = 1.0,
                  sampling_ratio: int = 0, pool_mode: str = 'avg',
                  aligned: bool = True) -> Tensor:
        if not _routed(input, devices):
            return original(input, rois, output_size, spatial_scale, sampling_ratio,
                            pool_mode, aligned)
        if pool_mode != 'avg':
            raise NotImplementedError(
                f'RoIAlign(pool_mode={pool_mode!r}) on {input.device.type}: torchvision '
                'pools by average only; build mmcv with its CUDA operators '
                '(docs/get_started.md, "On a GPU")')
        return _torchvision_ops('RoIAlign').roi_align(input, rois.type_as(input), output_size,
                                                      spatial_scale, sampling_ratio, aligned)

    return roi_align


class _NmsExtension:
    """mmcv's compiled-extension module as ``mmcv.ops.nms`` sees it, with its
    ``nms`` taken by torchvision on ``devices``; every other name is mmcv's."""

    def __init__(self, extension: Any, devices: Sequence[str]) -> None:
        self._extension = extension
        self._devices = tuple(devices)

    def nms(self, bboxes: Tensor, scores: Tensor, iou_threshold: float,
            offset: int = 0) -> Tensor:
        if not _routed(bboxes, self._devices):
            return self._extension.nms(bboxes, scores, iou_threshold=iou_threshold,
                                       offset=offset)
        if offset:
            bboxes = bboxes + bboxes.new_tensor([0, 0, offset, offset])
        return _torchvision_ops('nms').nms(bboxes.float(), scores.float(), iou_threshold)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._extension, name)


def install_mmcv_cuda_fallbacks(devices: Iterable[str] = FALLBACK_DEVICES,
                                force: bool = False) -> bool:
    """Route mmcv's deformable convolutions, ``RoIAlign``, ``nms`` and
    multi-scale deformable attention on ``devices`` to torch's kernels.

    Without ``force`` only where a GPU is present and mmcv has no CUDA
    operators; ``force`` (the tests) patches regardless. Idempotent.

    Returns:
        bool: Whether the operators are routed.
    """
    if not force and (mmcv_has_cuda_ops() or not torch.cuda.is_available()):
        return False
    # The modules, not the functions of the same names that mmcv.ops exports.
    deform_conv, modulated_deform_conv, multi_scale_deform_attn, nms_module, roi_align_module = (
        importlib.import_module(f'mmcv.ops.{name}') for name in
        ('deform_conv', 'modulated_deform_conv', 'multi_scale_deform_attn', 'nms', 'roi_align'))
    devices = tuple(devices)
    extension = nms_module.ext_module
    if isinstance(extension, _NmsExtension):
        if extension._devices == devices:
            return True
        extension = extension._extension
    nms_module.ext_module = _NmsExtension(extension, devices)
    for module, name, wrap in (
            (modulated_deform_conv, 'modulated_deform_conv2d', _modulated_deform_conv2d),
            (deform_conv, 'deform_conv2d', _deform_conv2d),
            (roi_align_module, 'roi_align', _roi_align)):
        function = getattr(module, name)
        original = getattr(function, '__wrapped_mmcv__', function)
        routed = wrap(original, devices)
        routed.__wrapped_mmcv__ = original
        setattr(module, name, routed)
    # mmcv takes its PyTorch path wherever it believes CUDA is absent.
    multi_scale_deform_attn.IS_CUDA_AVAILABLE = False
    return True
