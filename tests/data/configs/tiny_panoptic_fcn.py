# Test-only config: a narrow ResNet-18 Panoptic FCN trained for a few
# iterations on 64x64 synthetic images (projects.synthetic.synthetic_panoptic.
# generate_synthetic_panoptic), read by mmpfcn's checked dataset and loading transforms.
# The data root comes from the environment: MMPFCN_TEST_DATA=<generated dir>.
# mmpfcn's runtime base declares the training hooks (SafeCheckpointHook,
# FiniteLossHook, BadSampleReportHook); configs that set custom_hooks repeat
# the last two, since a list replaces the base's.
_base_ = [
    '../../../configs/_base_/models/panoptic-fcn_r50_fpn.py',
    '../../../projects/synthetic/configs/_base_/datasets/synthetic_panoptic.py',
    '../../../configs/_base_/default_runtime.py',
]

data_root = '{{$MMPFCN_TEST_DATA:data/synthetic}}/'
gn = dict(type='GN', num_groups=8, requires_grad=True)

model = dict(
    num_things_classes=6,
    num_stuff_classes=4,
    data_preprocessor=dict(std=[58.4, 57.1, 57.4], bgr_to_rgb=True),
    backbone=dict(
        depth=18,
        base_channels=16,
        frozen_stages=-1,
        norm_cfg=gn,
        norm_eval=False,
        style='pytorch',
        init_cfg=None),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=32),
    feature_encoder=dict(
        in_channels=32, fpn_channels=32, out_channels=16, norm_cfg=gn),
    kernel_generator=dict(
        position_head=dict(
            in_channels=32, feat_channels=32, num_convs=1, norm_cfg=gn,
            conv_cfg=None),
        kernel_head=dict(
            in_channels=32, feat_channels=32, embed_channels=16, num_convs=1,
            norm_cfg=gn)),
    test_cfg=dict(stuff_area_limit=16))

checked_common = dict(
    type='CheckedCocoPanopticDataset',
    data_root=data_root,
    filter_cfg=None)
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=None,
    dataset=dict(
        pipeline=[
            dict(type='LoadCheckedImageFromFile'),
            dict(
                type='LoadCheckedPanopticAnnotations',
                with_bbox=True,
                with_mask=True,
                with_seg=True),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackDetInputs')
        ],
        **checked_common))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        pipeline=[
            dict(type='LoadCheckedImageFromFile'),
            dict(type='LoadCheckedPanopticAnnotations'),
            dict(
                type='PackDetInputs',
                meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                           'scale_factor'))
        ],
        **checked_common))
test_dataloader = val_dataloader
val_evaluator = dict(
    ann_file=data_root + 'annotations/panoptic_val.json',
    seg_prefix=data_root + 'annotations/panoptic_val/')
test_evaluator = val_evaluator

train_cfg = dict(type='IterBasedTrainLoop', max_iters=4, val_interval=1000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4))
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1),
    checkpoint=dict(by_epoch=False, interval=2))
log_processor = dict(by_epoch=False, window_size=1)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, deterministic=True)
