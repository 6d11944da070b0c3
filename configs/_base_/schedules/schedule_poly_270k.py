# The authors' 3x schedule: the 1x schedule (schedule_poly_90k.py) for 270k iterations, with the
# poly decay stretched over all of them.
_base_ = './schedule_poly_90k.py'

max_iters = 270000
train_cfg = dict(max_iters=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=max_iters),
]
