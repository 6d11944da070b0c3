# The authors' 1x schedule: 90k iterations of 16 images, SGD 0.01 (no weight decay on norm layers,
# as detectron2), gradient clipping by value 35, linear warm-up from 0.001 over 1000 iterations,
# then poly decay (power 0.9) to 0. Validation and a checkpoint (the last 3 kept) every 10k
# iterations.
# The training hooks come with mmpfcn's runtime (default_runtime.py).
_base_ = '../default_runtime.py'

max_iters = 90000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0),
    clip_grad=dict(type='value', clip_value=35.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=max_iters),
]

default_hooks = dict(checkpoint=dict(by_epoch=False, interval=10000, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
# 8 GPUs x 2 images; `--auto-scale-lr` rescales the LR for other batch sizes.
auto_scale_lr = dict(enable=False, base_batch_size=16)
