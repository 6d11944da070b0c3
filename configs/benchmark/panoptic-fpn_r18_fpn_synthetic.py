# MMDetection's Panoptic FPN trained from scratch on the synthetic set with
# the backbone, data and training budget of
# configs/panoptic_fcn/panoptic-fcn_r18_fpn_synthetic.py (accuracy benchmark,
# docs/benchmark.md). FPN and heads keep MMDet's widths.
_base_ = [
    '../_base_/models/panoptic-fpn_r50_fpn_synthetic.py',
    '../_base_/models/resnet18_synthetic.py',
    '../_base_/datasets/synthetic_panoptic.py',
    '../_base_/schedules/synthetic_adamw.py',
]

model = dict(
    backbone={{_base_.synthetic_backbone}},
    neck=dict(in_channels={{_base_.synthetic_backbone_channels}}),
    # COCO's 4096-pixel stuff limit scaled from ~800x1333 to 256x256 images,
    # as Panoptic FCN's synthetic config does.
    test_cfg=dict(panoptic=dict(stuff_area_limit=256)))

train_dataloader = dict(
    batch_size={{_base_.synthetic_batch_size}}, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
