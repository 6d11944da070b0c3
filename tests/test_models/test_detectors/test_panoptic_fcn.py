"""PanopticFCN: class counts declared once, ``test_cfg`` checked, and test-time views (centre and
region logits averaged over mirrored and resized views before the kernels are fused)."""
import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config

from tiny_panoptic_fcn import NUM_STUFF_CLASSES, NUM_THING_CLASSES, tiny_model_cfg

SIZE = 128


def build(test_cfg):
    cfg = Config(dict(model=tiny_model_cfg()))
    cfg.model.test_cfg = test_cfg or {}
    torch.manual_seed(0)
    return MODELS.build(cfg.model).eval()


def fusion_inputs(model, image):
    """Run ``test_step`` on ``image``; the centre and region logits the kernel fusion received."""
    seen = {}
    predict_by_feat = model.kernel_generator.predict_by_feat

    def recording(centers, regions, *args, **kwargs):
        seen.update(centers=centers, regions=regions)
        return predict_by_feat(centers, regions, *args, **kwargs)

    model.kernel_generator.predict_by_feat = recording
    sample = DetDataSample(metainfo=dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE),
                                         scale_factor=(1.0, 1.0)))
    with torch.no_grad():
        result = model.test_step(dict(inputs=[image], data_samples=[sample]))[0]
    assert result.pred_panoptic_seg.sem_seg.shape[-2:] == (SIZE, SIZE)
    return seen['centers'] + seen['regions']


def head_logits(model, image, scale=1.0, mirrored=False):
    """Centre and region logits of one view, written out step by step."""
    inputs = model.data_preprocessor(dict(inputs=[image], data_samples=None))['inputs']
    inputs = F.interpolate(inputs, scale_factor=scale, mode='bilinear') if scale != 1.0 else inputs
    inputs = inputs.flip(-1) if mirrored else inputs
    with torch.no_grad():
        centers, regions, _ = model.kernel_generator(model.neck(model.backbone(inputs)))
    return [m.flip(-1) if mirrored else m for m in centers + regions]


@pytest.mark.parametrize('test_cfg, views', [
    (None, [(1.0, False)]),
    (dict(flip=True), [(1.0, False), (1.0, True)]),
    (dict(extra_scales=(1.25, )), [(1.0, False), (1.25, False)]),
    (dict(flip=True, extra_scales=(1.25, )), [(1.0, False), (1.0, True), (1.25, False), (1.25, True)]),
])
def test_fusion_gets_logits_averaged_over_the_views(test_cfg, views):
    model = build(test_cfg)
    image = torch.randint(0, 256, (3, SIZE, SIZE), dtype=torch.uint8)
    got = fusion_inputs(model, image)
    sizes = [m.shape[-2:] for m in head_logits(model, image)]
    want = [0] * len(sizes)
    for scale, mirrored in views:
        maps = head_logits(model, image, scale, mirrored)
        if scale != 1.0:
            assert maps[0].shape[-1] == round(SIZE * scale) // 8  # P3 of the 160-pixel view
        want = [w + F.interpolate(m, size=s, mode='bilinear') / len(views)
                for w, m, s in zip(want, maps, sizes)]
    assert len(got) == 10
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-5)


def test_mirror_averaged_logits_of_a_mirror_symmetric_image_are_symmetric():
    """On a mirror-symmetric image the averaged maps are mirror-symmetric; the plain ones are not."""
    model = build(dict(flip=True))
    half = torch.randint(0, 256, (3, SIZE, SIZE // 2), dtype=torch.uint8)
    image = torch.cat([half, half.flip(-1)], -1)
    for averaged, plain in zip(fusion_inputs(model, image), head_logits(model, image)):
        torch.testing.assert_close(averaged, averaged.flip(-1), rtol=1e-5, atol=1e-5)
        if plain.shape[-1] > 1:
            assert (plain - plain.flip(-1)).abs().max() > 1e-4


@pytest.mark.parametrize('test_cfg, message', [
    (dict(flipp=True), 'unknown key model.test_cfg.flipp; did you mean "flip"?'),
    (dict(mask_trh=0.5), 'unknown key model.test_cfg.mask_trh; did you mean "mask_thr"?'),
    (dict(extra_scales=(0, )), 'extra_scales must be positive'),
    (dict(mask_thr=1.5), r'PanopticFCNFusionHead: test_cfg.mask_thr must be in \[0, 1\]'),
    (dict(thing_score_thr=-1), r'KernelFusion: test_cfg.thing_score_thr must be in \[0, 1\]'),
])
def test_bad_test_cfg_is_rejected(test_cfg, message):
    cfg = Config(dict(model=tiny_model_cfg()))
    cfg.model.test_cfg = test_cfg
    with pytest.raises(ValueError, match=message):
        MODELS.build(cfg.model)


def test_test_cfg_and_class_counts_reach_every_part():
    model = build(dict(thing_score_thr=0.3, mask_thr=0.6, flip=True))
    assert model.kernel_generator.kernel_fusion.test_cfg.thing_score_thr == 0.3
    assert model.panoptic_fusion_head.test_cfg.mask_thr == 0.6
    assert model.panoptic_fusion_head.test_cfg.stuff_area_limit == 4096  # the paper's default
    counts = (model.kernel_generator.num_things_classes, model.kernel_generator.num_stuff_classes)
    head = model.kernel_generator.position_head
    assert counts == (NUM_THING_CLASSES, NUM_STUFF_CLASSES)
    assert (head.center_conv.out_channels, head.region_conv.out_channels) == (
        NUM_THING_CLASSES, NUM_STUFF_CLASSES + 1)
    assert model.panoptic_fusion_head.num_classes == NUM_THING_CLASSES + NUM_STUFF_CLASSES


def test_class_counts_given_twice_must_agree():
    cfg = Config(dict(model=tiny_model_cfg()))
    cfg.model.panoptic_fusion_head = dict(type='PanopticFCNFusionHead', num_stuff_classes=7)
    with pytest.raises(ValueError, match='model.panoptic_fusion_head.num_stuff_classes=7 disagrees'):
        MODELS.build(cfg.model)
