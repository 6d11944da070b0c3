"""The encoder's coarse levels share their last upsampling and still give the paper's sum."""
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS

from mmpfcn.models.layers import append_coordinates

GN = dict(type='GN', num_groups=4, requires_grad=True)


def build():
    torch.manual_seed(0)
    return MODELS.build(
        dict(type='FeatureEncoder', in_channels=8, fpn_channels=8, out_channels=4, norm_cfg=GN))


def feats():
    generator = torch.Generator().manual_seed(1)
    return tuple(torch.randn(2, 8, 32 // 2**i, 24 // 2**i, generator=generator) for i in range(4))


def per_level_sum(encoder, inputs):
    """Every level upsampled to stride 4 on its own, then summed (the paper's formulation)."""
    fused = 0
    for head, index, stride in zip(encoder.scale_heads, encoder.in_indices, (4, 8, 16, 32)):
        x = head(inputs[index])
        if stride != 4:
            x = F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)
        fused = fused + x
    x = append_coordinates(fused)
    for conv in encoder.encode_convs:
        x = conv(x)
    return x


def test_shared_upsampling_gives_the_per_level_sum():
    encoder = build()
    inputs = feats()
    out = encoder(inputs)
    assert out.shape == (2, 4, 32, 24)
    torch.testing.assert_close(out, per_level_sum(encoder, inputs), atol=1e-5, rtol=1e-5)


def test_one_upsampling_reaches_the_common_stride(monkeypatch):
    encoder = build()
    sizes = []
    interpolate = F.interpolate

    def counting(x, *args, **kwargs):
        out = interpolate(x, *args, **kwargs)
        sizes.append(tuple(out.shape[-2:]))
        return out

    monkeypatch.setattr(F, 'interpolate', counting)
    encoder(feats())
    # P3-P5 reach 16x12 once each (P4, P5 from below) and share the step to 32x24.
    assert sizes.count((32, 24)) == 1
    assert sorted(sizes) == [(8, 6), (16, 12), (16, 12), (32, 24)]


def test_checkpoint_keys_keep_their_conv_indices():
    keys = {k for k in build().state_dict() if k.endswith('conv.weight')}
    assert {k for k in keys if k.startswith('scale_heads')} == {
        'scale_heads.0.0.conv.weight', 'scale_heads.1.0.conv.weight', 'scale_heads.2.0.conv.weight',
        'scale_heads.2.2.conv.weight', 'scale_heads.3.0.conv.weight', 'scale_heads.3.2.conv.weight',
        'scale_heads.3.4.conv.weight'
    }
