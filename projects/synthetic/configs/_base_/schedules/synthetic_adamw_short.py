# A short from-scratch run (40 iterations, AdamW 5e-4 after a 10-iteration
# warm-up) of an R50-scale model on the synthetic set: not to learn the task,
# only so that its checkpoint makes realistic numbers of detections for the
# speed benchmark (a random initialisation keeps too many or none).
_base_ = ['./synthetic_adamw.py']

max_iters = 40
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(optimizer=dict(lr=5e-4))
param_scheduler = [
    dict(_base_.param_scheduler[0], end=10),
    dict(_base_.param_scheduler[1], T_max=max_iters, end=max_iters),
]
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=max_iters))
# From scratch, the R50 configs' frozen (or eval-mode) BatchNorm would keep its
# initial statistics and the zero-initialised last norm of each residual
# block: train every norm layer instead. Inference is the same network.
# Use it as `backbone={{_base_.scratch_backbone}}`.
scratch_backbone = dict(
    frozen_stages=-1,
    norm_cfg=dict(type='BN', requires_grad=True),
    norm_eval=False,
    init_cfg=None)
