# MMDetection's Panoptic FPN trained from scratch on the synthetic set with
# the backbone, data and training budget of
# projects/synthetic/configs/panoptic-fcn_r18_fpn_synthetic.py (accuracy benchmark,
# docs/benchmark.md). Its FPN and heads are narrowed by the same factor as
# Panoptic FCN's FPN (256 -> 64 channels, fully connected layers 1024 -> 256),
# so that all three models train at the same CPU scale (Panoptic FCN's
# kernel-generator towers are twice its FPN's width).
_base_ = [
    '../_base_/models/panoptic-fpn_r50_fpn_synthetic.py',
    '../_base_/models/resnet18_synthetic.py',
    '../_base_/datasets/synthetic_panoptic.py',
    '../_base_/schedules/synthetic_adamw.py',
]

width = 64
model = dict(
    backbone={{_base_.synthetic_backbone}},
    neck=dict(
        in_channels={{_base_.synthetic_backbone_channels}}, out_channels=width),
    rpn_head=dict(in_channels=width, feat_channels=width),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=width),
        bbox_head=dict(in_channels=width, fc_out_channels=4 * width),
        mask_roi_extractor=dict(out_channels=width),
        mask_head=dict(in_channels=width, conv_out_channels=width)),
    semantic_head=dict(in_channels=width, inner_channels=width // 2),
    # COCO's 4096-pixel stuff limit scaled from ~800x1333 to 256x256 images,
    # as Panoptic FCN's synthetic config does.
    test_cfg=dict(panoptic=dict(stuff_area_limit=256)))

train_dataloader = dict(
    batch_size={{_base_.synthetic_batch_size}}, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
