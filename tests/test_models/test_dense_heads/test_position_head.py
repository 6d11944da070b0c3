"""PositionHead: centre and region maps; ``shared_tower=False`` gives the regions a tower of their own."""
import torch
from mmdet.registry import MODELS

GN = dict(type='GN', num_groups=8, requires_grad=True)


def build(shared=True, **kwargs):
    torch.manual_seed(0)
    cfg = dict(type='PositionHead', num_things_classes=3, num_stuff_classes=2, in_channels=16,
               feat_channels=16, norm_cfg=GN, shared_tower=shared, **kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head.eval()


def feat(size=16):
    return torch.randn(2, 16, size, size, generator=torch.Generator().manual_seed(1))


def test_outputs_and_prior_bias():
    head = build()
    centers, regions = head(feat())
    assert centers.shape == (2, 3, 16, 16) and regions.shape == (2, 3, 16, 16)
    assert torch.all(head.center_conv.bias == -2.19) and torch.all(head.region_conv.bias == -2.19)
    # Outputs start near the prior: the weights are initialised with std 0.01.
    assert (centers.sigmoid() - torch.sigmoid(torch.tensor(-2.19))).abs().max() < 0.05


def test_shared_tower_has_the_papers_parameters():
    head = build(True)
    assert head.region_convs is None
    assert sorted({name.split('.')[0] for name in head.state_dict()}) == [
        'center_conv', 'convs', 'region_conv']


def test_region_tower_drives_only_the_region_maps():
    head = build(False)
    assert len(head.region_convs) == len(head.convs) == 3
    with torch.no_grad():
        centers, regions = head(feat())
        for conv in head.region_convs:
            conv.conv.weight.mul_(-1.0)
        centers2, regions2 = head(feat())
    torch.testing.assert_close(centers, centers2)
    assert (regions - regions2).abs().max() > 1e-4


def test_region_tower_learns_from_the_region_maps_only():
    head = build(False).train()
    _, regions = head(feat())
    regions.sum().backward()
    assert all(conv.conv.weight.grad.abs().sum() > 0 for conv in head.region_convs)
    assert all(conv.conv.weight.grad is None for conv in head.convs)


def test_coordinates_and_deformable_convs():
    head = build(with_coord=True, conv_cfg=dict(type='SampledDCNv2'))
    assert head.convs[0].conv.in_channels == 18
    assert type(head.convs[0].conv).__name__ == 'SampledModulatedDeformConv2dPack'
    centers, regions = head(feat(8))
    assert centers.shape == (2, 3, 8, 8) and torch.isfinite(regions).all()
