# Panoptic FCN R50 3x at test size 512 (short side) / 854 (long side), trained as the 400 model
# (352-512 short side, 854 long side, k = 3); the authors publish one checkpoint for both.
_base_ = './panoptic-fcn-400_r50_fpn_8xb2-ms-3x_coco.py'
test_pipeline = [
    {{_base_.load_image}},
    dict(type='Resize', scale=(854, 512), keep_ratio=True),
    {{_base_.load_panoptic}},
    {{_base_.pack_test}},
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
