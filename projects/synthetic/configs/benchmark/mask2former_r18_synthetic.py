# MMDetection's Mask2Former trained from scratch on the synthetic set with the
# backbone, data and training budget of
# projects/synthetic/configs/panoptic-fcn_r18_fpn_synthetic.py (accuracy benchmark,
# docs/benchmark.md): the synthetic 256x256 pipeline replaces MMDet's
# large-scale jittering at 1024. Pixel decoder and transformer are narrowed by
# the same factor as Panoptic FCN's FPN (256 -> 64 channels, feed-forward
# layers 4x smaller), so that all three models train at the same CPU scale
# (Panoptic FCN's kernel-generator towers are twice its FPN's width).
_base_ = [
    '../_base_/models/mask2former_r50_synthetic.py',
    '../_base_/models/resnet18_synthetic.py',
    '../_base_/datasets/synthetic_panoptic.py',
    '../_base_/schedules/synthetic_adamw.py',
]

width = 64
model = dict(
    data_preprocessor=dict(
        batch_augments=[dict(_base_.batch_pad, size=_base_.image_size)]),
    backbone={{_base_.synthetic_backbone}},
    panoptic_head=dict(
        in_channels={{_base_.synthetic_backbone_channels}},
        feat_channels=width,
        out_channels=width,
        # At most 10 things and 4 stuff regions per image.
        num_queries=50,
        pixel_decoder=dict(
            encoder=dict(
                layer_cfg=dict(
                    self_attn_cfg=dict(embed_dims=width),
                    ffn_cfg=dict(
                        embed_dims=width, feedforward_channels=4 * width))),
            positional_encoding=dict(num_feats=width // 2)),
        positional_encoding=dict(num_feats=width // 2),
        transformer_decoder=dict(
            layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=width),
                cross_attn_cfg=dict(embed_dims=width),
                ffn_cfg=dict(
                    embed_dims=width, feedforward_channels=8 * width)))),
    # MMDet's 112x112 sampled points per mask at 1024x1024, scaled to 256x256.
    train_cfg=dict(num_points=28 * 28))

train_dataloader = dict(
    batch_size={{_base_.synthetic_batch_size}}, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
