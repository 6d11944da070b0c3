import math

import pytest
import torch
from mmdet.registry import MODELS


def test_weighted_dice_matches_hand_computed_value():
    loss_fn = MODELS.build(dict(type='WeightedDiceLoss', loss_weight=3.0))
    # One target [1, 0] predicted by k = 2 kernels: probabilities [0.5, 0.5] and [0.75, 0.25].
    logits = torch.tensor([[[0.0, 0.0], [math.log(3), -math.log(3)]]])
    target = torch.tensor([[1.0, 0.0]])
    # dice: 1 - 1 / 1.5 = 1/3 and 1 - 1.5 / 1.625 = 1/13; weights [1, 3] normalise to [1/4, 3/4].
    loss = loss_fn(logits, target, weights=torch.tensor([[1.0, 3.0]]), avg_factor=1)
    assert loss.item() == pytest.approx(3.0 * (0.25 / 3 + 0.75 / 13), rel=1e-6)


def test_plain_dice_and_mean_reduction():
    loss_fn = MODELS.build(dict(type='WeightedDiceLoss'))
    logits = torch.tensor([[0.0, 0.0], [100.0, -100.0]])
    target = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    # First target: 1/3; second: perfect prediction, 0; mean over 2 targets.
    assert loss_fn(logits, target).item() == pytest.approx((1 / 3) / 2, rel=1e-5)


def test_gradients_flow_to_kernels_and_features():
    torch.manual_seed(0)
    loss_fn = MODELS.build(dict(type='WeightedDiceLoss', loss_weight=3.0))
    kernels = torch.randn(3, 7, 8, requires_grad=True)
    feats = torch.randn(8, 25, requires_grad=True)
    centre_logits = torch.randn(3, 7, requires_grad=True)
    target = (torch.rand(3, 25) > 0.5).float()
    loss = loss_fn(kernels @ feats, target, weights=centre_logits.sigmoid(), avg_factor=3)
    loss.backward()
    for grad in (kernels.grad, feats.grad, centre_logits.grad):
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_rejects_unknown_reduction():
    with pytest.raises(ValueError, match="reduction must be 'sum' or 'mean'"):
        MODELS.build(dict(type='WeightedDiceLoss', reduction='none'))
