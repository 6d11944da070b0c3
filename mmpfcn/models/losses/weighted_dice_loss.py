"""Weighted dice loss of Panoptic FCN (WDice, multi-positive kernels)."""
from typing import Optional

import torch
from mmdet.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class WeightedDiceLoss(nn.Module):
    """Dice loss averaged over the k kernels of each target with normalised weights.

    Each target (an instance or a stuff region) is predicted by ``k`` kernels;
    kernel ``j`` of target ``i`` produces ``mask_logits[i, j]``. Its dice loss
    ``1 - 2 sum(p t) / (sum(p^2) + sum(t^2))`` is weighted by
    ``weights[i, j] / sum_j weights[i, j]`` (the paper's centre-score weighting);
    without weights every kernel counts ``1 / k`` (plain dice for ``k = 1``).

    Args:
        loss_weight (float): Multiplier of the reduced loss.
        reduction (str): ``'sum'`` or ``'mean'`` over targets; ``avg_factor``
            overrides the divisor of ``'mean'``.
        eps (float): Clamp of the dice denominator and of the weight sums.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 reduction: str = 'mean',
                 eps: float = 1e-8) -> None:
        super().__init__()
        if reduction not in ('sum', 'mean'):
            raise ValueError(
                f"WeightedDiceLoss: reduction must be 'sum' or 'mean', got {reduction!r}")
        self.loss_weight = loss_weight
        self.reduction = reduction
        self.eps = eps

    def forward(self,
                mask_logits: Tensor,
                targets: Tensor,
                weights: Optional[Tensor] = None,
                avg_factor: Optional[float] = None) -> Tensor:
        """Compute the loss.

        Args:
            mask_logits (Tensor): ``(N, k, P)`` logits of k kernels per target,
                or ``(N, P)`` for one kernel per target.
            targets (Tensor): ``(N, P)`` soft or binary targets in [0, 1].
            weights (Tensor, optional): ``(N, k)`` non-negative kernel weights.
            avg_factor (float, optional): Divisor for ``'mean'``.
        """
        if mask_logits.dim() == targets.dim():
            mask_logits = mask_logits.unsqueeze(1)
        num, k = mask_logits.shape[:2]
        # Float32 sums over all pixels, also when the logits come from bf16 autocast.
        probs = mask_logits.float().sigmoid().reshape(num, k, -1)
        targets = targets.reshape(num, 1, -1).to(probs.dtype)
        denom = (probs * probs).sum(-1) + (targets * targets).sum(-1)
        dice = 1 - 2 * (probs * targets).sum(-1) / denom.clamp(min=self.eps)
        if weights is None:
            weights = dice.new_full((num, k), 1.0 / k)
        else:
            weights = weights.float() / weights.sum(-1, keepdim=True).clamp(min=self.eps)
        loss = (dice * weights).sum()
        if self.reduction == 'mean':
            loss = loss / (avg_factor if avg_factor is not None else max(num, 1))
        return self.loss_weight * loss
