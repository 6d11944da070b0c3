# Panoptic FCN (R18, narrow heads) trained from scratch on the generated synthetic panoptic set.
# Backbone and training budget are shared with the other models of docs/benchmark.md.
_base_ = [
    '../_base_/models/panoptic-fcn_r50_fpn.py',
    '../_base_/models/resnet18_synthetic.py',
    '../_base_/datasets/synthetic_panoptic.py',
    '../_base_/schedules/synthetic_adamw.py',
]

num_things_classes = 6
num_stuff_classes = 4
width = 64
embed = 32
gn = {{_base_.synthetic_norm_cfg}}

model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone={{_base_.synthetic_backbone}},
    neck=dict(in_channels={{_base_.synthetic_backbone_channels}}, out_channels=width),
    feature_encoder=dict(in_channels=width, fpn_channels=width, out_channels=embed, norm_cfg=gn),
    kernel_generator=dict(
        num_things_classes=num_things_classes, num_stuff_classes=num_stuff_classes,
        in_channels=width, feat_channels=width, embed_channels=embed, norm_cfg=gn,
        position_conv_cfg=None),
    kernel_fusion=dict(
        num_things_classes=num_things_classes, num_stuff_classes=num_stuff_classes,
        stuff_area_limit=256))

train_dataloader = dict(batch_size={{_base_.synthetic_batch_size}}, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
