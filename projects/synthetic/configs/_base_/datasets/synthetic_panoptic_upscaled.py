# The synthetic set (./synthetic_panoptic.py) upscaled for R50-scale speed
# runs: training at 512x512 in batches of 2, testing at MMDetection's COCO
# test scale (800 short side, at most 1333 long side: 800x800 here).
_base_ = ['./synthetic_panoptic.py']

image_size = (512, 512)
test_scale = (1333, 800)
train_pipeline = [
    dict(step, scale=image_size) if step.type == 'Resize' else step
    for step in _base_.train_pipeline
]
test_pipeline = [
    dict(step, scale=test_scale) if step.type == 'Resize' else step
    for step in _base_.test_pipeline
]
train_dataloader = dict(
    batch_size=2, num_workers=1, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(num_workers=1, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
