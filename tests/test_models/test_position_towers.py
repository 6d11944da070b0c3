"""``shared_position_tower=False`` gives the region maps a tower of their own; the default keeps one."""
import torch
from mmdet.registry import MODELS

GN = dict(type='GN', num_groups=8, requires_grad=True)


def build(shared):
    torch.manual_seed(0)
    return MODELS.build(
        dict(type='KernelGenerator', num_things_classes=3, num_stuff_classes=2, in_channels=16,
             feat_channels=16, embed_channels=8, norm_cfg=GN, shared_position_tower=shared)).eval()


def feats():
    generator = torch.Generator().manual_seed(1)
    return tuple(torch.randn(1, 16, 32 // 2**i, 32 // 2**i, generator=generator) for i in range(6))


def test_shared_tower_has_the_papers_parameters():
    head = build(True)
    assert head.region_convs is None
    assert not any(name.startswith('region_convs') for name in head.state_dict())


def test_region_tower_drives_only_the_region_maps():
    head = build(False)
    assert len(head.region_convs) == len(head.position_convs) == 3
    with torch.no_grad():
        centers, regions, kernels = head(feats())
        for conv in head.region_convs:
            conv.conv.weight.mul_(-1.0)
        centers2, regions2, kernels2 = head(feats())
    for before, after in zip(centers + kernels, centers2 + kernels2):
        torch.testing.assert_close(before, after)
    assert all((a - b).abs().max() > 1e-4 for a, b in zip(regions, regions2))
    assert [r.shape for r in regions] == [(1, 3, 16 // 2**i, 16 // 2**i) for i in range(5)]


def test_region_tower_learns_from_the_region_loss_only():
    head = build(False).train()
    centers, regions, kernels = head(feats())
    sum(r.sum() for r in regions).backward()
    assert all(conv.conv.weight.grad.abs().sum() > 0 for conv in head.region_convs)
    assert all(conv.conv.weight.grad is None for conv in head.position_convs)


def test_position_maps_are_the_forward_without_kernels():
    for shared in (True, False):
        head = build(shared)
        with torch.no_grad():
            centers, regions, _ = head(feats())
            only_centers, only_regions = head.position_maps(feats())
        for full, alone in zip(centers + regions, only_centers + only_regions):
            torch.testing.assert_close(full, alone, rtol=0, atol=0)
