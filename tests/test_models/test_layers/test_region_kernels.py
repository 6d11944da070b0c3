"""pool_region_kernels: region sums of the kernel feature over the level's area."""
import torch

from mmpfcn.models.layers import pool_region_kernels


def test_region_kernels_are_region_sums_over_the_level_area():
    feats = torch.arange(2 * 3 * 4 * 5, dtype=torch.float).reshape(2, 3, 4, 5)
    regions = torch.zeros(2, 2, 4, 5)
    regions[0, 0, :2] = 1
    regions[1, 1, :, 3:] = 1
    kernels = pool_region_kernels(regions, feats)
    assert kernels.shape == (2, 2, 3)
    torch.testing.assert_close(kernels[0, 0], feats[0, :, :2].sum((1, 2)) / 20)
    torch.testing.assert_close(kernels[1, 1], feats[1, :, :, 3:].sum((1, 2)) / 20)
    assert torch.equal(kernels[0, 1], torch.zeros(3))
