"""KernelGenerator: heads over the levels, losses, fused kernels for inference, old checkpoints."""
import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks
from mmengine.runner.checkpoint import load_state_dict
from mmengine.structures import InstanceData, PixelData

from mmpfcn.models.dense_heads.kernel_generator import RENAMED_PARAMETERS

GN = dict(type='GN', num_groups=8, requires_grad=True)
SIZE = 128


def build(**kwargs):
    torch.manual_seed(0)
    cfg = dict(type='KernelGenerator', num_things_classes=3, num_stuff_classes=2,
               position_head=dict(type='PositionHead', in_channels=16, feat_channels=16,
                                  norm_cfg=GN),
               kernel_head=dict(type='KernelHead', in_channels=16, feat_channels=16,
                                embed_channels=8, norm_cfg=GN),
               test_cfg=dict(thing_score_thr=0.0, stuff_score_thr=0.0), **kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def feats(batch=2):
    gen = torch.Generator().manual_seed(1)
    return tuple(torch.randn(batch, 16, SIZE // 4 // 2**i, SIZE // 4 // 2**i, generator=gen)
                 for i in range(6))


def sample():
    """One thing (label 1) on stuff channel 1 (left) and 2 (right)."""
    mask = np.zeros((1, SIZE, SIZE), np.uint8)
    mask[0, 20:60, 24:72] = 1
    sem = torch.full((1, SIZE, SIZE), 3, dtype=torch.long)
    sem[..., SIZE // 2:] = 4
    sem[0, 20:60, 24:72] = 1
    data = DetDataSample(metainfo=dict(batch_input_shape=(SIZE, SIZE)))
    data.gt_instances = InstanceData(
        masks=BitmapMasks(mask, SIZE, SIZE), labels=torch.tensor([1]),
        bboxes=HorizontalBoxes(torch.tensor([[24.0, 20.0, 72.0, 60.0]])))
    data.gt_sem_seg = PixelData(sem_seg=sem)
    return data


def test_forward_runs_both_heads_on_every_level():
    head = build()
    centers, regions, kernels = head(feats())
    assert [c.shape for c in centers] == [(2, 3, 16 // 2**i, 16 // 2**i) for i in range(5)]
    assert [r.shape[1] for r in regions] == [3] * 5 and [k.shape[1] for k in kernels] == [16] * 5
    only_centers, only_regions = head.position_maps(feats())
    for full, alone in zip(centers + regions, only_centers + only_regions):
        torch.testing.assert_close(full, alone, rtol=0, atol=0)


def test_losses_are_finite_and_reach_every_head():
    head = build().train()
    encode = torch.randn(1, 8, SIZE // 4, SIZE // 4, requires_grad=True)
    losses = head.loss(feats(1), encode, [sample()])
    assert set(losses) == {'loss_center', 'loss_region', 'loss_thing_mask', 'loss_stuff_mask'}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    for module in (head.position_head.convs, head.position_head.region_conv, head.kernel_head.convs,
                   head.kernel_head.thing_embed, head.kernel_head.stuff_embed):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())
    assert encode.grad.abs().sum() > 0


def test_predict_embeds_the_candidates_before_fusing_them():
    head = build().eval()
    fusion = head.kernel_fusion
    with torch.no_grad():
        centers, regions, kernels = head(feats())
        things, stuff = head.predict(feats(), [DetDataSample(), DetDataSample()])
        candidates = fusion.thing_candidates(centers, kernels)
        expected = fusion.fuse_thing_kernels(
            head.kernel_head.embed_things(candidates['kernels']), candidates['labels'],
            candidates['scores'], candidates['valid'])
        regions_found = fusion.stuff_candidates(regions, kernels)
        expected_stuff = fusion.fuse_stuff_kernels(
            head.kernel_head.embed_stuff(regions_found['kernels']), regions_found['scores'],
            regions_found['valid'])
    assert things['kernels'].shape[-1] == stuff['kernels'].shape[-1] == 8
    assert stuff['kernels'].shape[:2] == (2, 3)
    assert things['valid'].any() and stuff['valid'].any()
    for got, want in ((things, expected), (stuff, expected_stuff)):
        assert set(got) == set(want)
        for key in got:
            torch.testing.assert_close(got[key], want[key], rtol=0, atol=0)


def test_checkpoints_of_earlier_versions_load_under_the_new_names():
    head = build()
    old_names = {}
    for key, value in head.state_dict().items():
        for old, new in RENAMED_PARAMETERS:
            if key.startswith(new):
                key = old + key[len(new):]
                break
        old_names[key] = value
    assert 'position_convs.0.conv.weight' in old_names and 'thing_embed.weight' in old_names
    fresh = build()
    with torch.no_grad():
        for param in fresh.parameters():
            param.zero_()
    load_state_dict(fresh, dict(old_names), strict=True)
    for key, value in head.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key


def test_class_counts_given_twice_must_agree():
    with pytest.raises(ValueError, match=r'kernel_generator.position_head.num_things_classes=4 '
                       r'disagrees with num_things_classes=3'):
        MODELS.build(dict(type='KernelGenerator', num_things_classes=3, num_stuff_classes=2,
                          position_head=dict(type='PositionHead', num_things_classes=4)))


def test_position_prior_is_trained_and_predicted_from_the_kernels_positions():
    with pytest.raises(ValueError, match='position_prior_sigma must be positive'):
        build(position_prior_sigma=0.0)
    plain, prior = build().train(), build(position_prior_sigma=2.0).train()
    encode = torch.randn(1, 8, SIZE // 4, SIZE // 4, requires_grad=True)
    losses = prior.loss(feats(1), encode, [sample()])
    assert all(torch.isfinite(v) for v in losses.values())
    # Same weights, same positions: only the thing masks change.
    without = plain.loss(feats(1), encode, [sample()])
    assert losses['loss_center'] == without['loss_center']
    assert losses['loss_thing_mask'] != without['loss_thing_mask']
    losses['loss_thing_mask'].backward()
    assert prior.kernel_head.thing_embed.weight.grad.abs().sum() > 0

    targets = prior.target_generator([sample().gt_instances], sample().gt_sem_seg.sem_seg,
                                     (SIZE, SIZE), [(16 // 2**i, ) * 2 for i in range(5)],
                                     (SIZE // 4, SIZE // 4))
    center_logits, _, kernel_feats = prior(feats(1))
    _, weights, centers = prior._thing_kernels(center_logits, kernel_feats, targets)
    # The thing (x 24-72, y 20-60 of 128) sits on P3 and P4 (grids of 16 and 8 cells); every
    # kept position is within a cell of its box, and sigma is 2 cells of its level.
    kept = weights > 0
    cell = centers[..., 2] / 2
    assert kept.any()
    assert ((centers[..., 0] > 24 / SIZE - cell) & (centers[..., 0] < 72 / SIZE + cell))[kept].all()
    assert ((centers[..., 1] > 20 / SIZE - cell) & (centers[..., 1] < 60 / SIZE + cell))[kept].all()
    torch.testing.assert_close(centers[..., 2][kept].unique().sort().values,
                               torch.tensor([2 / 16, 2 / 8]))

    prior.eval()
    with torch.no_grad():
        things, _ = prior.predict_by_feat(*prior(feats()))
        plain_things, _ = plain.eval().predict_by_feat(*plain(feats()))
    assert 'prior_centers' not in plain_things
    assert things['prior_centers'].shape == (*things['scores'].shape, 3)
    # Survivors' sigmas are 2 cells of P3-P7 (16 to 1 cells wide).
    sigmas = things['prior_centers'][..., 2][things['valid']]
    assert set(sigmas.mul(16).round().tolist()) <= {2.0, 4.0, 8.0, 16.0, 32.0}
