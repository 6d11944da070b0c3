# Panoptic FCN R50 3x at test size 600 (short side) / 1000 (long side), trained at 440-600 short side
# (1000 long side), k = 5 positive kernels per instance.
_base_ = [
    '../_base_/models/panoptic-fcn_r50_fpn.py',
    '../_base_/datasets/coco_panoptic_checked.py',
    '../_base_/schedules/schedule_poly_270k.py',
]
model = dict(kernel_generator=dict(num_positives=5))
train_pipeline = [
    {{_base_.load_image}},
    {{_base_.load_panoptic}},
    dict(
        type='RandomChoiceResize',
        scales=[(1000, 440), (1000, 472), (1000, 504), (1000, 536), (1000, 568), (1000, 600)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    {{_base_.pack_train}},
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
test_pipeline = [
    {{_base_.load_image}},
    dict(type='Resize', scale=(1000, 600), keep_ratio=True),
    {{_base_.load_panoptic}},
    {{_base_.pack_test}},
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
