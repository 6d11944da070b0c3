"""KernelFusion: thing / stuff candidates and the fusion of their kernels."""
import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS


def build_fusion(**test_cfg):
    return MODELS.build(dict(type='KernelFusion', test_cfg=test_cfg))


def test_near_identical_same_class_kernels_fuse_into_one():
    fusion = build_fusion()
    a = torch.tensor([1.0, 0.0, 0.0, 0.0])
    b = torch.tensor([0.0, 1.0, 0.0, 0.0])
    kernels = torch.stack([a, a * 2 + 0.01, b, a + 0.02])[None]
    scores = torch.tensor([[0.9, 0.8, 0.7, 0.6]])
    valid = torch.ones(1, 4, dtype=torch.bool)

    same = fusion.fuse_thing_kernels(kernels, torch.tensor([[0, 0, 0, 0]]), scores, valid)
    assert same['valid'].tolist() == [[True, True, False, False]]
    assert torch.allclose(same['kernels'][0, 0], (kernels[0, 0] + kernels[0, 1] + kernels[0, 3]) / 3)
    assert torch.equal(same['kernels'][0, 1], b)
    assert same['scores'][0, :2].tolist() == pytest.approx([0.9, 0.7])

    mixed = fusion.fuse_thing_kernels(kernels, torch.tensor([[0, 1, 0, 1]]), scores, valid)
    assert mixed['valid'].tolist() == [[True, True, True, False]]
    assert mixed['labels'][0, :3].tolist() == [0, 1, 0]
    assert torch.equal(mixed['kernels'][0, 0], a)
    assert torch.allclose(mixed['kernels'][0, 1], (kernels[0, 1] + kernels[0, 3]) / 2)

    across_classes = build_fusion(class_specific=False).fuse_thing_kernels(
        kernels, torch.tensor([[0, 1, 0, 1]]), scores, valid)
    assert across_classes['valid'].tolist() == [[True, True, False, False]]


def test_fusion_drops_a_kernel_whose_first_match_was_itself_fused():
    # 0 ~ 1 and 1 ~ 2 but 0 !~ 2: 1 is fused into 0; 2's first match is 1, which is gone, so 2 is
    # dropped entirely (the authors' rule), not kept on its own.
    fusion = build_fusion(similarity_thr=0.9)
    angles = torch.tensor([0.0, 0.4, 0.8])
    kernels = torch.stack([angles.cos(), angles.sin()], 1)[None]
    out = fusion.fuse_thing_kernels(kernels, torch.zeros(1, 3, dtype=torch.long),
                                    torch.tensor([[0.9, 0.8, 0.7]]), torch.ones(1, 3, dtype=torch.bool))
    assert out['valid'].tolist() == [[True, False, False]]
    assert torch.allclose(out['kernels'][0, 0], kernels[0, :2].mean(0))


def test_thing_candidates_are_smoothed_peaks_in_score_order():
    fusion = build_fusion(center_pool_sizes=(3, ), max_per_img=4, thing_score_thr=0.3)
    logits = torch.full((1, 2, 6, 6), -8.0)
    logits[0, 1, 1, 1] = 4.0  # a peak of class 1
    logits[0, 0, 4, 4] = 2.0  # a weaker one of class 0
    logits[0, 0, 4, 3] = 1.0  # its neighbour: not a peak
    kernels = torch.arange(36.0).reshape(1, 1, 6, 6)
    out = fusion.thing_candidates([logits], [kernels])
    heat = logits.sigmoid()
    smoothed = (heat + F.avg_pool2d(heat, 3, stride=1, padding=1)) / 2
    assert out['valid'].tolist() == [[True, True]]  # max_per_img // 2 candidates per level
    assert out['labels'][0, :2].tolist() == [1, 0]
    assert out['positions'][0, :2].tolist() == [7, 28]
    assert out['kernels'][0, :2, 0].tolist() == [7.0, 28.0]
    torch.testing.assert_close(out['scores'][0, :2], smoothed[0, [1, 0], [1, 4], [1, 4]])


def test_stuff_candidates_pool_kernels_over_each_argmax_region():
    fusion = build_fusion(stuff_score_thr=0.5)
    logits = torch.full((1, 3, 4, 4), -4.0)
    logits[0, 1, :, :1] = 4.0  # channel 1 on one column
    logits[0, 2, :, 1:] = 0.5  # channel 2 elsewhere, probability 0.62
    feats = torch.ones(1, 2, 4, 4)
    out = fusion.stuff_candidates([logits, logits], [feats, 2 * feats])
    assert out['valid'].shape == (1, 2, 3) and out['valid'][0, 0].tolist() == [False, True, True]
    torch.testing.assert_close(out['scores'][0, 0, 1:], torch.tensor([4.0, 0.5]).sigmoid())
    # The feature summed over the region divided by the level's area (not the region's).
    torch.testing.assert_close(out['kernels'][0, 0, 1:], torch.tensor([[0.25, 0.25], [0.75, 0.75]]))
    torch.testing.assert_close(out['kernels'][0, 1], 2 * out['kernels'][0, 0])
    fused = fusion.fuse_stuff_kernels(out['kernels'], out['scores'], out['valid'])
    assert fused['valid'][0].tolist() == [False, True, True]
    torch.testing.assert_close(fused['kernels'][0, 2], torch.tensor([1.125, 1.125]))


@pytest.mark.parametrize('key,value', [('thing_score_thr', 1.5), ('stuff_score_thr', -0.1),
                                       ('similarity_thr', 2.0)])
def test_thresholds_out_of_range_are_rejected(key, value):
    with pytest.raises(ValueError, match=f'KernelFusion: test_cfg.{key} must be in'):
        build_fusion(**{key: value})


def test_settings_come_from_test_cfg_with_the_papers_defaults():
    fusion = build_fusion(thing_score_thr=0.2, mask_thr=0.3)  # mask_thr is the fusion head's
    assert fusion.test_cfg.thing_score_thr == 0.2 and fusion.test_cfg.stuff_score_thr == 0.05
    assert 'mask_thr' not in fusion.test_cfg
    with pytest.raises(ValueError, match='1 test_cfg.center_pool_sizes for 2 levels'):
        build_fusion(center_pool_sizes=(3, )).thing_candidates([torch.zeros(1, 1, 2, 2)] * 2,
                                                              [torch.zeros(1, 1, 2, 2)] * 2)


def test_candidates_carry_their_centres_and_survivors_keep_their_own():
    fusion = build_fusion(max_per_img=4, center_pool_sizes=(3, ))
    logits = torch.full((1, 1, 4, 4), -10.0)
    logits[0, 0, 1, 2] = 5.0  # one peak at (row 1, col 2)
    things = fusion.thing_candidates([logits], [torch.randn(1, 3, 4, 4)])
    torch.testing.assert_close(things['centers'][0, 0], torch.tensor([2.5 / 4, 1.5 / 4, 0.25]))

    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    centers = torch.tensor([[[0.1, 0.1, 0.1], [0.2, 0.2, 0.2], [0.3, 0.3, 0.3]]])
    out = fusion.fuse_thing_kernels(torch.stack([a, a, b])[None], torch.zeros(1, 3, dtype=torch.long),
                                    torch.tensor([[0.9, 0.8, 0.7]]),
                                    torch.ones(1, 3, dtype=torch.bool), centers)
    assert out['valid'].tolist() == [[True, True, False]]
    torch.testing.assert_close(out['prior_centers'][0, :2], centers[0, [0, 2]])
    assert 'prior_centers' not in fusion.fuse_thing_kernels(
        torch.stack([a, b])[None], torch.zeros(1, 2, dtype=torch.long), torch.ones(1, 2),
        torch.ones(1, 2, dtype=torch.bool))
