"""Every model config in the tree builds and runs a forward pass on a small input."""
import glob
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# Panoptic FCN configs; configs/benchmark (MMDet's models among them) is
# covered by tests/test_benchmark_suite.py with predict_tiny below, and
# configs/pretraining (backbone classifiers) by the test of its config below.
CONFIGS = sorted(
    p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p and osp.join('configs', 'benchmark') not in p
    and osp.join('configs', 'pretraining') not in p)


def predict_tiny(path, h=72, w=100):
    """The config's model, built without pretrained backbone weights, and its
    ``test_step`` prediction for one random ``h`` x ``w`` image."""
    cfg = Config.fromfile(path)
    cfg.model.backbone.init_cfg = None
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = MODELS.build(cfg.model).eval()
    sample = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), scale_factor=(1.0, 1.0)))
    data = dict(inputs=[torch.randint(0, 256, (3, h, w), dtype=torch.uint8)], data_samples=[sample])
    with torch.no_grad():
        return model, model.test_step(data)[0]


def test_config_tree_is_not_empty():
    assert len(CONFIGS) >= 13


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.relpath(p, ROOT) for p in CONFIGS])
def test_config_builds_and_predicts(path):
    h, w = 72, 100
    model, result = predict_tiny(path, h, w)
    num_classes = model.kernel_fusion.num_classes
    pan = result.pred_panoptic_seg.sem_seg
    assert pan.shape == (1, h, w)
    assert result.pred_sem_seg.sem_seg.shape == (1, h, w)
    assert int((pan % 1000).max()) <= num_classes
    assert result.pred_instances.masks.shape[1:] == (h, w)


def test_synthetic_config_tunes_the_short_schedule_and_coco_keeps_the_papers():
    """The synthetic config widens the kernel generator to twice its FPN,
    widens the centre Gaussians, weights the region loss 5x the centre loss
    and fuses only near-identical thing kernels (docs/get_started.md); the
    COCO recipe keeps the authors' values."""
    synthetic = Config.fromfile(
        osp.join(ROOT, 'configs', 'panoptic_fcn', 'panoptic-fcn_r18_fpn_synthetic.py')).model
    coco = Config.fromfile(
        osp.join(ROOT, 'configs', 'panoptic_fcn', 'panoptic-fcn_r50_fpn_1x_coco.py')).model

    def tuned(model):
        head = model.kernel_generator
        return (head.feat_channels // model.neck.out_channels,
                head.loss_region.loss_weight / head.loss_center.loss_weight,
                head.target_generator.min_overlap,
                model.kernel_fusion.similarity_thr)

    assert tuned(synthetic) == (2, 5.0, 0.3, 0.99)
    assert tuned(coco) == (1, 1.0, 0.7, 0.9)
    assert coco.kernel_generator.feat_channels == 256


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.relpath(p, ROOT) for p in CONFIGS])
def test_config_uses_the_panoptic_visualizer(path):
    """Every config draws with PanopticVisualizer (tested in test_visualization.py), so that
    `tools/test.py --show-dir` survives predictions with no segment."""
    cfg = Config.fromfile(path)
    assert cfg.visualizer.type == 'PanopticVisualizer'
    assert cfg.visualizer.vis_backends == [dict(type='LocalVisBackend')]


def test_thing_crop_pretraining_writes_the_backbone_the_detector_loads():
    """The pretraining config trains the detector's very backbone and saves
    one checkpoint, at its last iteration, under the name the thing-crops
    detector config's ``init_cfg`` loads (``backbone.*`` keys)."""
    detector = Config.fromfile(osp.join(
        ROOT, 'configs', 'panoptic_fcn', 'panoptic-fcn_r18-thing-crops_fpn_synthetic.py'))
    pretraining = detector.backbone_pretraining
    classifier = Config.fromfile(osp.join(ROOT, pretraining.config))
    name = osp.splitext(osp.basename(pretraining.config))[0]
    max_iters = classifier.train_cfg.max_iters
    assert pretraining.checkpoint == f'work_dirs/{name}/iter_{max_iters}.pth'
    assert classifier.default_hooks.checkpoint.interval == max_iters
    assert detector.model.backbone.init_cfg == dict(
        type='Pretrained', prefix='backbone.', checkpoint=pretraining.checkpoint)
    # The same network; only the random initialisation may differ.
    detector_backbone = dict(detector.model.backbone, init_cfg=None, zero_init_residual=False)
    assert classifier.model.backbone == detector_backbone
    assert classifier.model.num_classes == detector.model.kernel_generator.num_things_classes
    init_default_scope('mmdet')
    model = MODELS.build(classifier.model)
    assert model.fc.in_features == model.backbone.layer4[-1].conv2.out_channels
