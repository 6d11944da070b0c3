# Training budget of every model trained on the synthetic set: 2000
# iterations of `synthetic_batch_size` images, AdamW 1e-3 with a 100-iteration
# linear warm-up and cosine decay, gradient clipping at norm 10; one
# checkpoint, at the end. The batch size goes into the config's loader:
# `train_dataloader = dict(batch_size={{_base_.synthetic_batch_size}})`.
# mmpfcn's runtime comes with it: the schedule sets its hooks' intervals.
_base_ = ['../../../../../configs/_base_/default_runtime.py']

synthetic_batch_size = 8
max_iters = 2000
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4),
    clip_grad=dict(max_norm=10.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(
        type='CosineAnnealingLR',
        T_max=max_iters,
        eta_min=1e-5,
        by_epoch=False,
        begin=0,
        end=max_iters),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(
        by_epoch=False,
        interval=max_iters,
        max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
