# Panoptic FCN R50 3x at test size 600 (short side) / 1000 (long side), trained at
# 440/472/504/536/568/600 short side, k = 5 positive kernels per instance.
_base_ = './panoptic-fcn_r50_fpn_3x_coco.py'
model = dict(kernel_generator=dict(num_positives=5))
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(
        type='LoadPanopticAnnotations',
        with_bbox=True,
        with_mask=True,
        with_seg=True,
        backend_args={{_base_.backend_args}}),
    dict(type='RandomChoiceResize', scales=[(1000, 440), (1000, 472), (1000, 504), (1000, 536), (1000, 568), (1000, 600)], keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='Resize', scale=(1000, 600), keep_ratio=True),
    dict(type='LoadPanopticAnnotations', backend_args={{_base_.backend_args}}),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
