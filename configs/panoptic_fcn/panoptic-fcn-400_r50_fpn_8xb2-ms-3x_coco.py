# Panoptic FCN R50 3x at test size 400 (short side) / 666 (long side), trained at 352-512 short side
# (854 long side), k = 3 positive kernels per instance.
_base_ = [
    '../_base_/models/panoptic-fcn_r50_fpn.py',
    '../_base_/datasets/coco_panoptic_checked.py',
    '../_base_/schedules/schedule_poly_270k.py',
]
model = dict(kernel_generator=dict(num_positives=3))
train_pipeline = [
    {{_base_.load_image}},
    {{_base_.load_panoptic}},
    dict(
        type='RandomChoiceResize',
        scales=[(854, 352), (854, 384), (854, 416), (854, 448), (854, 480), (854, 512)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    {{_base_.pack_train}},
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
test_pipeline = [
    {{_base_.load_image}},
    dict(type='Resize', scale=(666, 400), keep_ratio=True),
    {{_base_.load_panoptic}},
    {{_base_.pack_test}},
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
