# Panoptic FCN (R18, narrow heads) trained from scratch on the generated synthetic panoptic set.
# Backbone and training budget are shared with the other models of docs/benchmark.md.
_base_ = [
    '../../../configs/_base_/models/panoptic-fcn_r50_fpn.py',
    './_base_/models/resnet18_synthetic.py',
    './_base_/datasets/synthetic_panoptic.py',
    './_base_/schedules/synthetic_adamw.py',
]

width = 64
# The position head's tower is shared by the centre (things) and region
# (stuff) maps; at 64 channels the two compete for it, at 128 both learn.
head_width = 2 * width
embed = 32
gn = {{_base_.synthetic_norm_cfg}}

model = dict(
    num_things_classes=6,
    num_stuff_classes=4,
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone={{_base_.synthetic_backbone}},
    neck=dict(in_channels={{_base_.synthetic_backbone_channels}}, out_channels=width),
    feature_encoder=dict(in_channels=width, fpn_channels=width, out_channels=embed, norm_cfg=gn),
    kernel_generator=dict(
        position_head=dict(
            in_channels=width, feat_channels=head_width, norm_cfg=gn, conv_cfg=None),
        kernel_head=dict(
            in_channels=width, feat_channels=head_width, embed_channels=embed, norm_cfg=gn),
        # Wider centre Gaussians (COCO: 0.7) give each thing more near-positive
        # positions, and a region loss weighted 5 (COCO: 1) lets the stuff maps
        # learn the textures within the short from-scratch schedule.
        target_generator=dict(min_overlap=0.3),
        loss_region=dict(loss_weight=5.0)),
    test_cfg=dict(
        # Briefly trained kernels of touching same-class things are nearly
        # parallel; fuse only near-identical ones (COCO: 0.9), chosen on a
        # separate seed-7 split.
        similarity_thr=0.99,
        stuff_area_limit=256))

train_dataloader = dict(batch_size={{_base_.synthetic_batch_size}}, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
