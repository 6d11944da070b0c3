"""Kernels of stuff regions: the kernel-head feature pooled over each region."""
import torch
from torch import Tensor


def pool_region_kernels(regions: Tensor, kernel_feats: Tensor) -> Tensor:
    """``(B, S, h, w)`` region weights and ``(B, C, h, w)`` kernel features -> ``(B, S, C)``.

    Each region's kernel is the feature summed over the region and divided by
    the level's area ``h * w`` (not the region's), as the authors do, in
    training (binarised region targets) and inference (argmax one-hots) alike.
    """
    area = kernel_feats.shape[-2] * kernel_feats.shape[-1]
    return torch.einsum('bshw,bchw->bsc', regions, kernel_feats) / area
