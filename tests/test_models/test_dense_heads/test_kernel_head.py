"""KernelHead: kernel features per position and the thing / stuff embeddings both paths use."""
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS

GN = dict(type='GN', num_groups=8, requires_grad=True)


def build():
    torch.manual_seed(0)
    head = MODELS.build(dict(type='KernelHead', in_channels=16, feat_channels=16, embed_channels=8,
                             norm_cfg=GN))
    head.init_weights()
    return head.eval()


def test_kernels_of_a_level_see_the_coordinates():
    head = build()
    assert head.convs[0].conv.in_channels == 18  # features + the two coordinate channels
    feat = torch.zeros(1, 16, 6, 10)
    with torch.no_grad():
        kernels = head(feat)
    assert kernels.shape == (1, 16, 6, 10)
    # A constant input gives different kernels at different positions only through the coordinates.
    assert (kernels[..., 0, 0] - kernels[..., -1, -1]).abs().max() > 0


def test_embeddings_equal_the_1x1_convs():
    head = build()
    kernels = torch.randn(2, 5, 16)
    as_maps = kernels.permute(0, 2, 1)[..., None]  # (B, C, N, 1)
    for embed, conv in ((head.embed_things, head.thing_embed), (head.embed_stuff, head.stuff_embed)):
        expected = F.conv2d(as_maps, conv.weight, conv.bias)[..., 0].permute(0, 2, 1)
        torch.testing.assert_close(embed(kernels), expected)
    assert head.embed_things(kernels).shape == (2, 5, 8)
    assert not torch.equal(head.embed_things(kernels), head.embed_stuff(kernels))
