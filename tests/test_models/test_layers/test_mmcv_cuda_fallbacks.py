"""mmcv's operators routed away from its compiled kernels (for a mmcv built without CUDA).

On a GPU machine the routing applies to CUDA tensors; here it is forced onto the CPU, where
mmcv's own compiled kernels give the expected values. torchvision (the GPU machine has it;
this venv has no CPU build of it) is stood in for by a module whose ``nms`` is a plain greedy
NMS and whose ``roi_align`` records its call.
"""
import importlib
import sys
import types

import pytest
import torch
from mmcv.ops import (DeformConv2dPack, ModulatedDeformConv2dPack, RoIAlign, batched_nms,
                      deform_conv, modulated_deform_conv, multi_scale_deform_attn, nms)

from mmpfcn.models.layers import mmcv_cuda_fallbacks
from mmpfcn.models.layers.mmcv_cuda_fallbacks import (install_mmcv_cuda_fallbacks,
                                                      mmcv_has_cuda_ops)

# mmcv.ops exports functions named as these modules.
nms_module = importlib.import_module('mmcv.ops.nms')
roi_align_module = importlib.import_module('mmcv.ops.roi_align')
PATCHED = ((nms_module, 'ext_module'), (modulated_deform_conv, 'modulated_deform_conv2d'),
           (deform_conv, 'deform_conv2d'), (roi_align_module, 'roi_align'),
           (multi_scale_deform_attn, 'IS_CUDA_AVAILABLE'))


def greedy_nms(boxes, scores, iou_threshold):
    """torchvision's ``nms`` contract (no offset), one box at a time."""
    order = scores.argsort(descending=True)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep, suppressed = [], torch.zeros(len(boxes), dtype=torch.bool)
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        lt = torch.maximum(boxes[i, :2], boxes[:, :2])
        rb = torch.minimum(boxes[i, 2:], boxes[:, 2:])
        inter = (rb - lt).clamp(min=0).prod(-1)
        suppressed |= inter / (area[i] + area - inter) > iou_threshold
    return torch.tensor(keep, dtype=torch.long)


def route_on_cpu(monkeypatch, **torchvision_ops):
    """Route mmcv's operators on the CPU, ``torchvision_ops`` standing in for
    ``torchvision.ops``; every patched global is restored afterwards."""
    for module, name in PATCHED:
        monkeypatch.setattr(module, name, getattr(module, name))
    ops = types.SimpleNamespace(**torchvision_ops)
    monkeypatch.setitem(sys.modules, 'torchvision', types.SimpleNamespace(ops=ops))
    monkeypatch.setitem(sys.modules, 'torchvision.ops', ops)
    assert install_mmcv_cuda_fallbacks(devices=('cpu', ), force=True)


@pytest.fixture
def routed_cpu(monkeypatch):
    """The routing with the greedy NMS and a ``roi_align`` that records its calls."""
    calls = []

    def roi_align(*args):
        calls.append(args)
        return torch.zeros(len(args[1]), args[0].shape[1], *args[2])

    route_on_cpu(monkeypatch, nms=greedy_nms, roi_align=roi_align)
    return calls


def test_nothing_is_patched_without_a_gpu():
    if torch.cuda.is_available() and not mmcv_has_cuda_ops():
        pytest.skip('a GPU with a CPU-only mmcv: the routing is the point there')
    before = [getattr(module, name) for module, name in PATCHED]
    assert not install_mmcv_cuda_fallbacks()
    assert [getattr(module, name) for module, name in PATCHED] == before


def _randomised(conv):
    torch.manual_seed(0)
    torch.nn.init.normal_(conv.conv_offset.weight, std=0.5)
    torch.nn.init.normal_(conv.conv_offset.bias, std=1.0)
    return conv.double()


@pytest.mark.parametrize('layer', [
    lambda: ModulatedDeformConv2dPack(4, 6, 3, padding=1, deform_groups=2),
    lambda: ModulatedDeformConv2dPack(4, 6, 3, stride=2, padding=2, dilation=2, groups=2),
    lambda: DeformConv2dPack(4, 6, 3, padding=1, deform_groups=2),
])
def test_deformable_convolutions_equal_mmcv_kernels(layer, monkeypatch):
    conv = _randomised(layer())
    x = torch.randn(2, 4, 9, 7, dtype=torch.float64, requires_grad=True)
    expected = conv(x)
    grads_expected = torch.autograd.grad(expected.sum(), [x, *conv.parameters()])
    calls = []

    def counted(*args):
        calls.append(args[0].shape)
        return sampled(*args)

    sampled = mmcv_cuda_fallbacks.sampled_modulated_deform_conv2d
    monkeypatch.setattr(mmcv_cuda_fallbacks, 'sampled_modulated_deform_conv2d', counted)
    route_on_cpu(monkeypatch)
    actual = conv(x)
    assert calls == [x.shape]  # the PyTorch path ran, not mmcv's kernel
    torch.testing.assert_close(actual, expected, rtol=1e-10, atol=1e-10)
    grads = torch.autograd.grad(actual.sum(), [x, *conv.parameters()])
    for got, want in zip(grads, grads_expected):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


def _boxes(num=60, seed=0):
    generator = torch.Generator().manual_seed(seed)
    corners = torch.rand(num, 2, generator=generator) * 40
    sizes = torch.rand(num, 2, generator=generator) * 12 + 1
    boxes = torch.cat([corners, corners + sizes], 1).round()  # whole pixels: offset matters
    return boxes, torch.rand(num, generator=generator)


@pytest.mark.parametrize('offset', [0, 1])
def test_nms_equals_mmcv_kernel_also_with_its_offset(offset):
    boxes, scores = _boxes()
    expected_dets, expected = nms(boxes, scores, 0.3, offset=offset)
    with pytest.MonkeyPatch.context() as monkeypatch:
        route_on_cpu(monkeypatch, nms=greedy_nms)
        dets, keep = nms(boxes, scores, 0.3, offset=offset)
        batched, batched_keep = batched_nms(boxes, scores, torch.arange(60) % 3,
                                            dict(type='nms', iou_threshold=0.3))
    assert 5 < len(keep) < 60
    assert keep.tolist() == expected.tolist()
    torch.testing.assert_close(dets, expected_dets)
    reference = batched_nms(boxes, scores, torch.arange(60) % 3,
                            dict(type='nms', iou_threshold=0.3))
    assert batched_keep.tolist() == reference[1].tolist()


def test_roi_align_calls_torchvision_and_refuses_max_pooling(routed_cpu):
    features = torch.randn(1, 3, 16, 16)
    rois = torch.tensor([[0, 1.0, 2.0, 9.0, 11.0]])
    out = RoIAlign((7, 7), spatial_scale=0.25, sampling_ratio=0, aligned=True)(features, rois)
    assert out.shape == (1, 3, 7, 7)
    (args, ) = routed_cpu
    assert args[0] is features and args[1].tolist() == rois.tolist()
    assert args[2:] == ((7, 7), 0.25, 0, True)
    with pytest.raises(NotImplementedError, match="pool_mode='max'"):
        RoIAlign((7, 7), pool_mode='max')(features, rois)


def test_deformable_attention_takes_the_pytorch_path_and_install_is_idempotent(routed_cpu):
    assert multi_scale_deform_attn.IS_CUDA_AVAILABLE is False
    first = modulated_deform_conv.modulated_deform_conv2d
    extension = nms_module.ext_module
    assert install_mmcv_cuda_fallbacks(devices=('cpu', ), force=True)
    assert nms_module.ext_module is extension
    original = first.__wrapped_mmcv__
    install_mmcv_cuda_fallbacks(devices=('cpu', 'meta'), force=True)
    assert modulated_deform_conv.modulated_deform_conv2d.__wrapped_mmcv__ is original
    assert nms_module.ext_module._extension is extension._extension


def test_a_missing_torchvision_is_named(routed_cpu, monkeypatch):
    monkeypatch.setitem(sys.modules, 'torchvision', None)
    monkeypatch.setitem(sys.modules, 'torchvision.ops', None)
    boxes, scores = _boxes()
    with pytest.raises(ImportError, match='its nms on a GPU needs torchvision'):
        nms(boxes, scores, 0.3)
