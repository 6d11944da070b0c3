# Panoptic FCN R50 3x at test size 400 (short side) / 666 (long side), trained at
# 352/384/416/448/480/512 short side, k = 3 positive kernels per instance.
_base_ = './panoptic-fcn_r50_fpn_3x_coco.py'
model = dict(kernel_generator=dict(num_positives=3))
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(
        type='LoadPanopticAnnotations',
        with_bbox=True,
        with_mask=True,
        with_seg=True,
        backend_args={{_base_.backend_args}}),
    dict(type='RandomChoiceResize', scales=[(854, 352), (854, 384), (854, 416), (854, 448), (854, 480), (854, 512)], keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='Resize', scale=(666, 400), keep_ratio=True),
    dict(type='LoadPanopticAnnotations', backend_args={{_base_.backend_args}}),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
