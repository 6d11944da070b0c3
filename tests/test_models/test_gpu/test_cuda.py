"""Panoptic FCN on a GPU: every component forward and backward on CUDA with the values of
the CPU, predictions that match, training iterations in mixed precision, channels-last, and
mmcv's operators on a GPU (through :mod:`mmpfcn.models.layers.mmcv_cuda_fallbacks` where mmcv
has no CUDA kernels). MMDetection's Panoptic FPN and Mask2Former predict on CUDA too.

Skipped without CUDA. ``MMPFCN_GPU_TEST_DEVICE=cpu`` runs the same code on the CPU (the
comparisons are then trivial), a check of the tests themselves on a machine without a GPU.
TF32 is off: the comparisons are of float32 on both sides.
"""
import os

import numpy as np
import pytest
import torch
from mmdet.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmcv.ops import RoIAlign, nms

from mmpfcn.apis.benchmark import build_model, load_model_config
from mmpfcn.models.layers import SampledModulatedDeformConv2dPack
from projects.synthetic.synthetic_panoptic import SYNTHETIC_METAINFO, generate_synthetic_panoptic
from tiny_panoptic_fcn import tiny_model_cfg

DEVICE = os.environ.get('MMPFCN_GPU_TEST_DEVICE', 'cuda')
ON_CUDA = DEVICE.startswith('cuda')
pytestmark = pytest.mark.skipif(ON_CUDA and not torch.cuda.is_available(),
                                reason='needs a CUDA device')
needs_cuda = pytest.mark.skipif(not ON_CUDA, reason='CUDA autocast and loss scaling')
SIZE = 128


@pytest.fixture(autouse=True)
def float32_everywhere():
    init_default_scope('mmdet')
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


def deformable_cfg():
    """The tiny model with deformable convolutions where the R50* configs have them."""
    cfg = tiny_model_cfg()
    cfg['kernel_generator']['position_head']['conv_cfg'] = dict(type='SampledDCNv2')
    cfg['feature_encoder']['encoder_conv_cfg'] = dict(type='SampledDCNv2')
    return cfg


def build(seed=0):
    torch.manual_seed(seed)
    model = MODELS.build(deformable_cfg())
    model.init_weights()
    for module in model.modules():
        if isinstance(module, SampledModulatedDeformConv2dPack):
            torch.nn.init.normal_(module.conv_offset.weight, std=0.05)  # offsets that move
    return model


@pytest.fixture(scope='module')
def batch(tmp_path_factory):
    """Two generated 128x128 training images with their panoptic annotations."""
    init_default_scope('mmdet')
    root = str(tmp_path_factory.mktemp('synthetic'))
    generate_synthetic_panoptic(root, num_train=4, num_val=1, size=SIZE, seed=3)
    dataset = DATASETS.build(dict(
        type='CocoPanopticDataset', data_root=root, ann_file='annotations/panoptic_train.json',
        data_prefix=dict(img='train/', seg='annotations/panoptic_train/'),
        metainfo=SYNTHETIC_METAINFO, pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadPanopticAnnotations', with_bbox=True, with_mask=True, with_seg=True),
            dict(type='PackDetInputs')]))
    return pseudo_collate([dataset[0], dataset[1]])


def losses_and_grads(model, batch):
    model.train()
    data = model.data_preprocessor(batch, training=True)
    losses = model(**data, mode='loss')
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    grads = torch.autograd.grad(sum(losses.values()), [p for _, p in named], allow_unused=True)
    return ({k: float(v) for k, v in losses.items()},
            {name: g.cpu() for (name, _), g in zip(named, grads) if g is not None})


def test_every_component_trains_on_cuda_with_the_values_of_the_cpu(batch):
    cpu_losses, cpu_grads = losses_and_grads(build(), batch)
    losses, grads = losses_and_grads(build().to(DEVICE), batch)
    assert losses.keys() == cpu_losses.keys()
    for key, value in cpu_losses.items():
        assert losses[key] == pytest.approx(value, rel=1e-3, abs=1e-5), key
    assert grads.keys() == cpu_grads.keys()
    # Every component: backbone, FPN, feature encoder (deformable), both heads.
    prefixes = {name.split('.')[0] for name in grads}
    assert {'backbone', 'neck', 'feature_encoder', 'kernel_generator'} <= prefixes
    for name, grad in cpu_grads.items():
        scale = grad.abs().max().clamp(min=1e-6)
        assert (grads[name] - grad).abs().max() <= 2e-3 * scale, name


def predict(model, batch, autocast_dtype=None):
    model.eval()
    samples = [s.clone() for s in batch['data_samples']]
    data = dict(inputs=batch['inputs'], data_samples=samples)
    with torch.no_grad(), torch.autocast('cuda', dtype=autocast_dtype or torch.float16,
                                         enabled=autocast_dtype is not None):
        results = model.test_step(data)
    return [r.pred_panoptic_seg.sem_seg.cpu().numpy() for r in results]


def test_prediction_on_cuda_equals_cpu(batch):
    cpu = predict(build(), batch)
    cuda = predict(build().to(DEVICE), batch)
    for got, want in zip(cuda, cpu):
        assert np.mean(got == want) >= 0.995


@needs_cuda
def test_fp16_inference_keeps_the_panoptic_map(batch):
    model = build().to(DEVICE)
    for got, want in zip(predict(model, batch, torch.float16), predict(model, batch)):
        assert np.mean(got == want) >= 0.98


@needs_cuda
@pytest.mark.parametrize('dtype', ['float16', 'bfloat16'])
def test_mixed_precision_training_iterations(batch, dtype):
    """MMEngine's ``AmpOptimWrapper`` (``--amp`` on CUDA): finite losses in float32 from the
    fp16/bf16 forward, parameters that move, and a loss that drops on the same batch."""
    model = build().to(DEVICE)
    optim_wrapper = build_optim_wrapper(model, Config(dict(
        type='AmpOptimWrapper', dtype=dtype, loss_scale='dynamic',
        optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4),
        clip_grad=dict(max_norm=10.0))))
    before = [p.detach().clone() for p in model.parameters()]
    model.train()
    totals = []
    for _ in range(8):
        losses = model.train_step(batch, optim_wrapper)
        assert all(torch.isfinite(v) and v.dtype == torch.float32 for v in losses.values())
        totals.append(float(sum(losses.values())))
    moved = sum(not torch.equal(p, q) for p, q in zip(model.parameters(), before))
    assert moved >= 0.9 * len(before)
    assert totals[-1] < totals[0]


def test_channels_last_model_predicts_the_same(batch):
    plain = build().to(DEVICE)
    nhwc = build().to(DEVICE).to(memory_format=torch.channels_last)
    nhwc.load_state_dict(plain.state_dict())
    for got, want in zip(predict(nhwc, batch), predict(plain, batch)):
        assert np.mean(got == want) >= 0.995


def test_mmcv_operators_on_cuda_equal_their_cpu_kernels():
    torch.manual_seed(0)
    dcn = SampledModulatedDeformConv2dPack(8, 8, 3, padding=1, deform_groups=2)
    torch.nn.init.normal_(dcn.conv_offset.weight, std=0.3)
    x = torch.randn(2, 8, 21, 17)
    torch.testing.assert_close(dcn.to(DEVICE)(x.to(DEVICE)).cpu(), dcn.cpu()(x),
                               rtol=1e-4, atol=1e-4)

    corners = torch.rand(200, 2) * 100
    boxes = torch.cat([corners, corners + torch.rand(200, 2) * 30 + 1], 1).round()
    scores = torch.rand(200)
    for offset in (0, 1):
        _, keep_cpu = nms(boxes, scores, 0.5, offset=offset)
        _, keep = nms(boxes.to(DEVICE), scores.to(DEVICE), 0.5, offset=offset)
        assert keep.cpu().tolist() == keep_cpu.tolist()

    features = torch.randn(2, 4, 32, 32)
    rois = torch.tensor([[0, 3.5, 4.0, 60.0, 50.0], [1, 10.0, 0.0, 100.0, 120.0]])
    align = RoIAlign((7, 7), spatial_scale=0.25, sampling_ratio=0, aligned=True)
    torch.testing.assert_close(align(features.to(DEVICE), rois.to(DEVICE)).cpu(),
                               align(features, rois), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('config', [
    'tests/data/benchmark/tiny_panoptic_fpn.py',
    'mmdet::mask2former/mask2former_r50_8xb2-lsj-50e_coco-panoptic.py',
])
def test_mmdet_panoptic_models_predict_on_cuda(config, batch):
    """The models the benchmark compares with (RoIAlign and nms, deformable attention)."""
    model = build_model(load_model_config(config), None, DEVICE)
    samples = [s.clone() for s in batch['data_samples']]
    with torch.no_grad():
        results = model.test_step(dict(inputs=batch['inputs'], data_samples=samples))
    assert [r.pred_panoptic_seg.sem_seg.shape[-2:] for r in results] == [(SIZE, SIZE)] * 2
