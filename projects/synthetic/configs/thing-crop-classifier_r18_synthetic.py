# Pretraining of the synthetic ResNet-18 on the generated training set: it
# learns the six thing classes from square crops of the training images'
# things (data/synthetic, 14181 crops), in about 7 minutes on two cores,
# before Panoptic FCN trains with it
# (panoptic-fcn_r18-thing-crops_fpn_synthetic.py). No external weights.
_base_ = [
    '../../../configs/_base_/default_runtime.py',
    './_base_/models/resnet18_synthetic.py',
]
custom_imports = dict(
    imports=['mmpfcn', 'projects.synthetic.synthetic_panoptic'],
    allow_failed_imports=False)

data_root = 'data/synthetic/'
# Crops are stored at 80x80 (1.5625 times the box side, so a thing spans
# 51 pixels) and trained at 64x64 from random squares of 56-80 pixels.
stored_size = 80
input_size = 64
# MMDet's ResNet zero-initialises the last norm of every residual block;
# from random weights that slows the classifier down (val accuracy after
# 600 of 2500 iterations: 63 % without, and 70 % after all 2500 with it).
# (A config's code reads its bases' variables as `_base_.<name>`.)
model = dict(
    type='CropClassifier',
    backbone=dict(_base_.synthetic_backbone, zero_init_residual=False),
    num_classes=6,
    in_channels=256,  # the last of synthetic_backbone_channels
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True))

meta_keys = ('img_path', 'segment_id', 'ori_shape', 'img_shape',
             'scale_factor', 'flip', 'flip_direction')
train_pipeline = [
    dict(type='RandomSquareCrop', min_ratio=0.7),
    dict(type='Resize', scale=(input_size, input_size), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='Resize', scale=(input_size, input_size), keep_ratio=False),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]
# The splits differ in files, pipeline and batching.
crops = dict(type='ThingCropDataset', data_root=data_root, crop_size=stored_size)
# The crops load in the training process: its pipeline costs about 7 ms a
# batch there, while a worker process has to send each batch's 64 samples
# through shared memory one by one, which made an iteration 0.135 s instead
# of 0.097 s on the 2-core machine (400 iterations each, side by side).
workers = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(
    batch_size=64,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(ann_file='annotations/panoptic_train.json', data_prefix=dict(img='train/'),
                 pipeline=train_pipeline, **crops),
    **workers)
val_dataloader = dict(
    batch_size=128,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(ann_file='annotations/panoptic_val.json', data_prefix=dict(img='val/'),
                 test_mode=True, pipeline=test_pipeline, **crops),
    **workers)
test_dataloader = val_dataloader
val_evaluator = dict(type='CropAccuracy')
test_evaluator = val_evaluator

# 4000 iterations (86 % val accuracy) instead of 2500 (80 %) take Panoptic
# FCN's things from PQ 22-27 to 32 (docs/get_started.md).
max_iters = 4000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='AdamW', lr=2e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.04, by_epoch=False, begin=0, end=125),
    dict(type='CosineAnnealingLR', T_max=max_iters, eta_min=0.0, by_epoch=False,
         begin=0, end=max_iters),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
