# Test-only config: trains tests/data/tiny_task.py's linear regressor for a
# few iterations on CPU, with the training hooks of mmpfcn's runtime base
# (configs/_base_/default_runtime.py). Needs tests/data on PYTHONPATH.
custom_imports = dict(
    imports=['mmpfcn', 'tiny_task'], allow_failed_imports=False)
default_scope = 'mmdet'

model = dict(type='TinyRegressor')

train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    dataset=dict(type='TinyRegressionDataset', num_samples=16),
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'))
test_dataloader = dict(
    batch_size=4,
    num_workers=0,
    dataset=dict(type='TinyRegressionDataset', num_samples=8),
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'))
test_evaluator = dict(type='TinyMSEMetric')

train_cfg = dict(type='IterBasedTrainLoop', max_iters=4)
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9))

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1),
    checkpoint=dict(type='SafeCheckpointHook', interval=2, by_epoch=False))
custom_hooks = [dict(type='FiniteLossHook'), dict(type='BadSampleReportHook')]
log_processor = dict(by_epoch=False)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
