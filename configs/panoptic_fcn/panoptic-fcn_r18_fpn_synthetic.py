# Panoptic FCN (R18, narrow heads) trained from scratch on the generated synthetic panoptic set.
_base_ = [
    '../_base_/models/panoptic-fcn_r50_fpn.py',
    '../_base_/datasets/synthetic_panoptic.py',
    'mmdet::_base_/default_runtime.py',
]

num_things_classes = 6
num_stuff_classes = 4
width = 64
embed = 32
gn = dict(type='GN', num_groups=16, requires_grad=True)

model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(
        depth=18, base_channels=32, frozen_stages=-1, norm_cfg=gn, norm_eval=False, style='pytorch',
        init_cfg=None),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=width),
    feature_encoder=dict(in_channels=width, fpn_channels=width, out_channels=embed, norm_cfg=gn),
    kernel_generator=dict(
        num_things_classes=num_things_classes, num_stuff_classes=num_stuff_classes,
        in_channels=width, feat_channels=width, embed_channels=embed, norm_cfg=gn,
        position_conv_cfg=None),
    kernel_fusion=dict(
        num_things_classes=num_things_classes, num_stuff_classes=num_stuff_classes,
        stuff_area_limit=256))

train_dataloader = dict(batch_size=8, num_workers=1)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader

max_iters = 1000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4),
    clip_grad=dict(max_norm=10.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', T_max=max_iters, eta_min=1e-5, by_epoch=False, begin=0, end=max_iters),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
