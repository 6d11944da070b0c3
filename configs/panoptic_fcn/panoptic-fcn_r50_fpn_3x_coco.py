# Panoptic FCN R50 3x: the 1x recipe for 270k iterations.
_base_ = './panoptic-fcn_r50_fpn_1x_coco.py'
max_iters = 270000
train_cfg = dict(max_iters=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=max_iters),
]
