# MMDetection's Mask2Former trained from scratch on the synthetic set with the
# backbone, data and training budget of
# configs/panoptic_fcn/panoptic-fcn_r18_fpn_synthetic.py (accuracy benchmark,
# docs/benchmark.md): the synthetic 256x256 pipeline replaces MMDet's
# large-scale jittering at 1024. The transformer keeps MMDet's widths.
_base_ = [
    '../_base_/models/mask2former_r50_synthetic.py',
    '../_base_/models/resnet18_synthetic.py',
    '../_base_/datasets/synthetic_panoptic.py',
    '../_base_/schedules/synthetic_adamw.py',
]

model = dict(
    data_preprocessor=dict(
        batch_augments=[dict(_base_.batch_pad, size=_base_.image_size)]),
    backbone={{_base_.synthetic_backbone}},
    panoptic_head=dict(
        in_channels={{_base_.synthetic_backbone_channels}},
        # At most 10 things and 4 stuff regions per image.
        num_queries=50),
    # MMDet's 112x112 sampled points per mask at 1024x1024, scaled to 256x256.
    train_cfg=dict(num_points=28 * 28))

train_dataloader = dict(
    batch_size={{_base_.synthetic_batch_size}}, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
